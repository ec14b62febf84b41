import fs from 'node:fs';
import path from 'node:path';
import {
  SshCertError,
  parseCertificateText,
  parsePrivateKey,
  parsePublicKeyText,
  type Certificate,
  type PrivateKey,
  type PublicKey,
} from '@neetodeploy/sshcert';
import { AdminError, UsageError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
};

/** `30s`, `5m`, `1h`, `1d`, `2w` or plain seconds, to whole seconds (> 0). */
export function parseDuration(text: string, what = '--ttl'): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new UsageError(
      `${what}: expected a duration such as 30s, 5m, 1h or 1d, got ${JSON.stringify(text)}`,
    );
  }
  return seconds;
}

const U64_MAX = 0xffffffffffffffffn;

export function parseSerial(text: string, what = '--serial'): bigint {
  if (!/^\d{1,20}$/.test(text))
    throw new UsageError(`${what}: expected a decimal serial number, got ${JSON.stringify(text)}`);
  const v = BigInt(text);
  if (v > U64_MAX) throw new UsageError(`${what}: ${text} does not fit in 64 bits`);
  return v;
}

/** `N` or `N-M` (inclusive). */
export function parseSerialRange(text: string): readonly [bigint, bigint] {
  const parts = text.split('-');
  if (parts.length > 2)
    throw new UsageError(`--serial: expected N or N-M, got ${JSON.stringify(text)}`);
  const lo = parseSerial(parts[0]!);
  const hi = parts.length === 2 ? parseSerial(parts[1]!) : lo;
  if (lo === 0n || lo > hi)
    throw new UsageError(`--serial: ${text} is not a range of serials from 1 upwards`);
  return [lo, hi];
}

export function resolvePath(cwd: string, file: string): string {
  return path.resolve(cwd, file);
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AdminError(
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function keyError(what: string, file: string, err: unknown): never {
  if (err instanceof SshCertError) throw new AdminError(`${what} ${file}: ${err.message}`);
  throw err;
}

export function readPrivateKeyFile(file: string, what: string): PrivateKey {
  const text = readText(file, what);
  try {
    return parsePrivateKey(text);
  } catch (err) {
    return keyError(what, file, err);
  }
}

/** Every key line of a file (blank lines and `#` comments skipped): several CAs during rotation. */
export function readPublicKeysFile(file: string, what: string): PublicKey[] {
  const lines = readText(file, what)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  if (lines.length === 0) throw new AdminError(`${what} ${file}: no public key in the file`);
  try {
    return lines.map((l) => parsePublicKeyText(l));
  } catch (err) {
    return keyError(what, file, err);
  }
}

export function readCertificateFile(file: string): Certificate {
  const text = readText(file, 'certificate').trim();
  try {
    return parseCertificateText(text);
  } catch (err) {
    return keyError('certificate', file, err);
  }
}
