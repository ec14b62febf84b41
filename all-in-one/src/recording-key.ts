/**
 * The recording key of the all-in-one: an Ed25519 key (PEM PKCS#8, 0600) that the bastion signs
 * session manifests with, made on first start beside the CA keys (`ca/recording_key`), outside
 * the `recordings/` folder it vouches for. `neetodeploy-keys recordings verify --data-dir`
 * finds it there.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Makes the key the first time; returns whether it was made now. */
export function ensureRecordingKey(file: string): { created: boolean } {
  if (fs.existsSync(file)) return { created: false };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return { created: true };
}
