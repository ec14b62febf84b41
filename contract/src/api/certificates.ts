/** `POST /api/v1/certificates`: a short-lived user certificate for a public key and one app. */
import * as z from 'zod';
import { APP_NAME_PATTERN } from '../app-name.js';
import { isKeyId } from '../key-id.js';
import { PROCESS_TYPE_PATTERN } from '../user-name.js';

/** Longest public key line accepted (an RSA 8192 key is about 1.4 kB). */
export const PUBLIC_KEY_MAX_LENGTH = 16_384;

export const certificateRequestSchema = z
  .object({
    app: z.string().regex(APP_NAME_PATTERN, 'app names are DNS labels'),
    /** OpenSSH public key line, e.g. `ssh-ed25519 AAAA... comment`. */
    public_key: z.string().min(1).max(PUBLIC_KEY_MAX_LENGTH),
    /** Process type the session will exec into; checked against the app when known. */
    process: z.string().regex(PROCESS_TYPE_PATTERN, 'a process type name').optional(),
  })
  .strict();
export type CertificateRequest = z.input<typeof certificateRequestSchema>;

/** The answer (201). */
export const certificateSchema = z.object({
  /** `ssh-ed25519-cert-v01@openssh.com AAAA...` */
  certificate: z.string(),
  /** Decimal, as the certificate's serial is a uint64. */
  serial: z.string().regex(/^\d+$/),
  /** `<email>:<request_id>` (see key-id.ts). */
  key_id: z.string().refine(isKeyId, 'a key id <email>:<requestId>'),
  request_id: z.string(),
  principals: z.array(z.string()),
  valid_after: z.iso.datetime(),
  valid_before: z.iso.datetime(),
  /** Where to connect, and the known_hosts lines that trust it (separated by `\n`). */
  bastion: z.object({ host: z.string(), port: z.number().int(), known_hosts: z.string() }),
});
export type IssuedCertificate = z.output<typeof certificateSchema>;
