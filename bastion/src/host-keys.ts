import { readFile } from 'node:fs/promises';
import type { BastionConfig } from './config.js';

declare module 'ssh2' {
  interface EncryptedPrivateKey {
    /** OpenSSH host certificate for `key` (`*-cert.pub` line or blob); needs patches/ssh2. */
    certificate?: Buffer | string;
  }
}

export interface HostKeyMaterial {
  readonly key: Buffer;
  readonly certificate?: string;
}

/** Reads the persistent host key(s) and their host certificates (never logged). */
export async function loadHostKeys(config: BastionConfig['hostKeys']): Promise<HostKeyMaterial[]> {
  return Promise.all(
    config.map(async (k) => ({
      key: await readFile(k.privateKeyFile),
      certificate: k.certificateFile
        ? (await readFile(k.certificateFile, 'utf8')).trim()
        : undefined,
    })),
  );
}
