import { readFile } from 'node:fs/promises';
import { parseCertificateText } from '@neetodeploy/sshcert';
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

/** OpenSSH's "forever" (`valid before` = 2^64 - 1): a certificate that never expires. */
const FOREVER = 0xffff_ffff_ffff_ffffn;

/**
 * The earliest expiry (Unix seconds) of the host certificates, for the expiry metric; undefined
 * when none is served or none expires. A certificate that does not parse is left to ssh2.
 */
export function earliestCertificateExpiry(keys: readonly HostKeyMaterial[]): number | undefined {
  let earliest: bigint | undefined;
  for (const k of keys) {
    if (!k.certificate) continue;
    try {
      const validBefore = parseCertificateText(k.certificate).validBefore;
      if (validBefore !== FOREVER && (earliest === undefined || validBefore < earliest)) {
        earliest = validBefore;
      }
    } catch {
      continue;
    }
  }
  return earliest === undefined ? undefined : Number(earliest);
}
