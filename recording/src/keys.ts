/**
 * The recording key: an Ed25519 key pair whose private half signs manifests. It lives in a file
 * outside the recordings' data path (whoever can edit recordings must not be able to re-sign
 * them), PEM PKCS#8, mode 0600.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecordingError } from './types.js';

export interface RecordingKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** `SHA256:<base64>` of the raw public key, as manifests name their signer. */
  readonly keyId: string;
}

/** The id manifests carry for `publicKey`. */
export function recordingKeyId(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const raw = spki.subarray(spki.length - 32);
  return `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

function keyError(path: string, why: string, cause?: unknown): RecordingError {
  return new RecordingError(
    'key',
    `recording key ${path}: ${why}`,
    `the recording key at ${path} cannot be used (${why}): point the recording key setting at an Ed25519 PEM key, or create one with \`openssl genpkey -algorithm ed25519 -out ${path}\``,
    { cause },
  );
}

/** Parses PEM text of an Ed25519 private key. */
export function parseRecordingKey(pem: string, source = 'key'): RecordingKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw keyError(source, 'not a PEM private key', err);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw keyError(source, `an ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: recordingKeyId(publicKey) };
}

export function loadRecordingKey(path: string): RecordingKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw keyError(path, (err as NodeJS.ErrnoException).code ?? 'unreadable', err);
  }
  return parseRecordingKey(pem, path);
}

/** Reads the key at `path`, creating it (0600, directory 0700) on first use. */
export function loadOrCreateRecordingKey(path: string): RecordingKey {
  try {
    return loadRecordingKey(path);
  } catch (err) {
    const cause = (err as RecordingError).cause as NodeJS.ErrnoException | undefined;
    if (cause?.code !== 'ENOENT') throw err;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
    flag: 'wx',
  });
  return loadRecordingKey(path);
}

/**
 * A public key for verification from a KeyObject or PEM text (SPKI public key, or a private
 * key whose public half is taken).
 */
export function toPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  try {
    return createPublicKey(key);
  } catch {
    return createPublicKey(createPrivateKey(key));
  }
}
