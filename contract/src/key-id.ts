/**
 * The key id of a user certificate: `<user>:<requestId>`, written by the keys-service and read
 * by the bastion (revocation by user, audit) and `ssh-keygen -L`. The user is the email the
 * API token belongs to; the request id is random and also written to the issuing audit event,
 * which is how a session is traced back to its certificate.
 *
 * The user is everything before the **last** `:` (a request id never contains one), so a user
 * name may contain `:`.
 */
import type { Result } from './errors.js';
import { ContractError, ok, refuse } from './errors.js';

/** The base64url alphabet; the keys-service draws 12 random bytes (16 characters). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Longest user. Emails are not checked further: accounts and OpenID Connect providers decide
 * what an email looks like, and a key id must be able to name every user they accept.
 */
export const KEY_ID_USER_MAX_LENGTH = 1024;

export interface KeyId {
  /** The email of the user the certificate was issued to. */
  readonly user: string;
  /** Random id of the issuing request; the same id is in the audit event. */
  readonly requestId: string;
}

// A control character (a newline above all) would let a key id forge lines in logs and in
// `ssh-keygen -L` output.
// eslint-disable-next-line no-control-regex
const BAD_USER_CHARACTER = /[\x00-\x1f\x7f]/;

function checkUser(user: string): ContractError | undefined {
  if (user.length === 0 || user.length > KEY_ID_USER_MAX_LENGTH || BAD_USER_CHARACTER.test(user)) {
    return new ContractError(
      'invalid_key_id_user',
      `${JSON.stringify(user)} is not a user for a key id: 1 to ${KEY_ID_USER_MAX_LENGTH} characters, no control characters`,
    );
  }
  return undefined;
}

function checkRequestId(requestId: string): ContractError | undefined {
  if (!REQUEST_ID_PATTERN.test(requestId)) {
    return new ContractError(
      'invalid_request_id',
      `${JSON.stringify(requestId)} is not a request id: 1 to 64 of A-Z a-z 0-9 - _`,
    );
  }
  return undefined;
}

/** `{ user, requestId }` → `user:requestId`. Throws {@link ContractError} for either part bad. */
export function encodeKeyId(keyId: KeyId): string {
  const error = checkUser(keyId.user) ?? checkRequestId(keyId.requestId);
  if (error) throw error;
  return `${keyId.user}:${keyId.requestId}`;
}

/** Exact inverse of {@link encodeKeyId}; `invalid_key_id` for an id it would not produce. */
export function decodeKeyId(text: string): Result<KeyId> {
  const sep = text.lastIndexOf(':');
  if (sep <= 0) {
    return refuse('invalid_key_id', `${JSON.stringify(text)} is not a key id <user>:<requestId>`);
  }
  const user = text.slice(0, sep);
  const requestId = text.slice(sep + 1);
  const error = checkRequestId(requestId) ?? checkUser(user);
  if (error) {
    return refuse('invalid_key_id', `${JSON.stringify(text)} is not a key id: ${error.message}`);
  }
  return ok({ user, requestId });
}

/** True when `text` is a key id {@link decodeKeyId} accepts. */
export function isKeyId(text: string): boolean {
  return decodeKeyId(text).ok;
}
