import fs from 'node:fs';
import path from 'node:path';
import {
  encodePrivateKey,
  encodePublicKeyText,
  fingerprint,
  generatePrivateKey,
  type KeyType,
} from '@neetodeploy/sshcert';
import type { AdminDeps } from './deps.js';
import { AdminError, UsageError } from './errors.js';
import { resolvePath } from './parse.js';

export interface CaInitOptions {
  readonly out: string;
  /** ed25519 (default), ecdsa (nistp256) or rsa (3072 bits). */
  readonly type?: string;
}

const TYPES: Readonly<Record<string, KeyType>> = {
  ed25519: 'ssh-ed25519',
  ecdsa: 'ecdsa-sha2-nistp256',
  rsa: 'ssh-rsa',
};

/** The CA key files `ca init` writes, also the keys-service's default layout under `<data>/ca`. */
export const CA_FILES = [
  { name: 'user_ca', comment: 'neetodeploy-user-ca' },
  { name: 'host_ca', comment: 'neetodeploy-host-ca' },
] as const;

/** Writes a user CA and a host CA key pair into `out` (private 0600); never overwrites a key. */
export function runCaInit(options: CaInitOptions, deps: AdminDeps): void {
  const typeName = options.type ?? 'ed25519';
  const type = TYPES[typeName];
  if (!type)
    throw new UsageError(`--type: expected ed25519, ecdsa or rsa, got ${JSON.stringify(typeName)}`);
  const dir = resolvePath(deps.cwd, options.out);
  const files = CA_FILES.flatMap((f) => [path.join(dir, f.name), path.join(dir, `${f.name}.pub`)]);
  const existing = files.filter((f) => fs.existsSync(f));
  if (existing.length > 0) {
    throw new AdminError(`refusing to overwrite existing CA key files: ${existing.join(', ')}`);
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of CA_FILES) {
    const key = generatePrivateKey(type, { comment: f.comment });
    const file = path.join(dir, f.name);
    try {
      // 'wx' so that a concurrent writer can never be overwritten either.
      fs.writeFileSync(file, encodePrivateKey(key, f.comment), { mode: 0o600, flag: 'wx' });
      fs.chmodSync(file, 0o600);
      fs.writeFileSync(`${file}.pub`, `${encodePublicKeyText(key.publicKey, f.comment)}\n`, {
        mode: 0o644,
        flag: 'wx',
      });
    } catch (err) {
      throw new AdminError(
        `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    deps.io.stdout.write(`${file}.pub ${fingerprint(key.publicKey)} ${f.comment}\n`);
  }
  deps.io.stderr.write(
    `Wrote the user CA and host CA to ${dir}. Trust user certificates with ` +
      `TrustedUserCAKeys ${path.join(dir, 'user_ca.pub')}\n`,
  );
}
