/**
 * `GET /api/v1/ca` (public, `ETag` / `If-None-Match` → 304): what the bastion needs to trust
 * user certificates and revoke them, and the host CA key clients trust the bastion with.
 */
import { z } from 'zod';

export const caBundleSchema = z.object({
  /** OpenSSH public key lines; several during a rotation. */
  user_ca_keys: z.array(z.string()).min(1),
  host_ca_key: z.string(),
  /** Base64 of the binary KRL (PROTOCOL.krl), or null when nothing is revoked by serial. */
  krl: z.string().nullable(),
  /** Per user (email): unix seconds; certificates valid from before it are refused. */
  not_before: z.record(z.string(), z.number()),
  generated_at: z.iso.datetime(),
});
export type CaBundle = z.output<typeof caBundleSchema>;
