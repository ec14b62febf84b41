/**
 * The bastion's host identity: a persistent ed25519 host key (made once, 0600) and a host
 * certificate for it, signed by the keys-service's host CA on every start so that clients trust
 * one `@cert-authority` line (docs/identity.md) and a rotated host CA takes effect on restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  encodeCertificateText,
  encodePrivateKey,
  generatePrivateKey,
  parsePrivateKey,
  signCertificate,
} from '@neetodeploy/sshcert';
import type { PrivateKey } from '@neetodeploy/sshcert';

/** Names clients reach the local bastion by, and the ProxyJump virtual hosts. */
export const HOST_PRINCIPALS: readonly string[] = ['localhost', '127.0.0.1', '*.neetodeploy'];

/** Long enough for a dev server left running; every start signs a fresh one anyway. */
const HOST_CERTIFICATE_TTL_SECONDS = 365 * 24 * 60 * 60;

const HOST_KEY_COMMENT = 'neetodeploy-bastion';

/** Loads the host key, making it the first time. Returns whether it was made now. */
export function ensureHostKey(file: string): { key: PrivateKey; created: boolean } {
  if (fs.existsSync(file)) {
    return { key: parsePrivateKey(fs.readFileSync(file, 'utf8')), created: false };
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = generatePrivateKey('ssh-ed25519', { comment: HOST_KEY_COMMENT });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, encodePrivateKey(key, HOST_KEY_COMMENT), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return { key, created: true };
}

/** Signs a host certificate for `hostKey` with the host CA and writes it (0644) to `file`. */
export function writeHostCertificate(
  file: string,
  hostKey: PrivateKey,
  hostCa: PrivateKey,
  now: Date,
): void {
  const cert = signCertificate(
    {
      publicKey: hostKey.publicKey,
      certType: 'host',
      keyId: `neetodeploy-bastion@${now.toISOString()}`,
      principals: HOST_PRINCIPALS,
      ttlSeconds: HOST_CERTIFICATE_TTL_SECONDS,
      now,
    },
    hostCa,
  );
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${encodeCertificateText(cert, HOST_KEY_COMMENT)}\n`, { mode: 0o644 });
  fs.renameSync(tmp, file);
}
