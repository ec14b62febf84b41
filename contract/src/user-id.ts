/**
 * User ids (e-mail addresses) as the parts compare them, and the form in which the public CA
 * bundle names revoked users: a SHA-256 of the normalised id, so that the bundle, which anyone
 * may fetch, does not list who was revoked. The bastion hashes the user of a certificate's key
 * id the same way and looks that up.
 */
import { createHash } from 'node:crypto';

/** E-mail addresses are compared case-insensitively: `Alice@Example.com` is `alice@example.com`. */
export function normaliseUserId(user: string): string {
  return user.trim().toLowerCase();
}

/** Lower-case hex SHA-256 of {@link normaliseUserId}(user): 64 characters. */
export function hashUserId(user: string): string {
  return createHash('sha256').update(normaliseUserId(user), 'utf8').digest('hex');
}

/** What {@link hashUserId} returns. */
export const USER_ID_HASH_PATTERN = /^[0-9a-f]{64}$/;
