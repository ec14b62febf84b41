/**
 * `GET /api/v1/ca` (public, `ETag` / `If-None-Match` → 304): what the bastion needs to trust
 * user certificates and revoke them, and the host CA key clients trust the bastion with.
 */
import * as z from 'zod';
import { USER_ID_HASH_PATTERN } from '../user-id.js';

export const caBundleSchema = z.object({
  /** OpenSSH public key lines; several during a rotation. */
  user_ca_keys: z.array(z.string()).min(1),
  host_ca_key: z.string(),
  /** Base64 of the binary KRL (PROTOCOL.krl), or null when nothing is revoked by serial. */
  krl: z.string().nullable(),
  /**
   * Per user: unix seconds; certificates valid from before it are refused. Keyed by
   * `hashUserId(email)` (SHA-256 hex of the lower-cased email), never by the email itself:
   * this answer is public, and who was revoked is personal data. A reader hashes the user of a
   * key id (`decodeKeyId(id).value.user`) and looks that up.
   */
  not_before_sha256: z.record(z.string().regex(USER_ID_HASH_PATTERN), z.number()),
  /**
   * Deprecated, always empty: kept only so that bastions that still read emails here parse the
   * bundle during the change to `not_before_sha256` (they then enforce the KRL but not the
   * per-user time). Removed once every bastion reads `not_before_sha256`.
   */
  not_before: z.object({}).strict(),
  generated_at: z.iso.datetime(),
});
export type CaBundle = z.output<typeof caBundleSchema>;
