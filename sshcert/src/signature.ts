import { sign, verify, type KeyObject } from 'node:crypto';
import { SshCertError, malformed } from './errors.js';
import { curveOf, decodeLossy } from './public-key.js';
import type { KeyType, PrivateKey, PublicKey, SignatureAlgorithm } from './types.js';
import { WireReader, WireWriter } from './wire.js';

/** A parsed SSH signature blob: `string algorithm, string signature`. */
export interface ParsedSignature {
  readonly algorithm: SignatureAlgorithm;
  /** The algorithm-specific signature bytes (for ECDSA: the SSH `mpint r, mpint s` encoding). */
  readonly signature: Buffer;
}

export interface VerifySignatureOptions {
  /**
   * Signature algorithms accepted. Default: every supported one except `ssh-rsa` (RSA with
   * SHA-1), which OpenSSH also refuses by default since 8.8.
   */
  readonly allowedAlgorithms?: readonly SignatureAlgorithm[];
}

const SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set<SignatureAlgorithm>([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-256',
  'rsa-sha2-512',
  'ssh-rsa',
]);

export const DEFAULT_SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-256',
  'rsa-sha2-512',
];

const RSA_HASH: Readonly<Record<string, string>> = {
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
  'ssh-rsa': 'sha1',
};

/** Whether a signature algorithm can be produced by a key of this type. */
export function algorithmFitsKey(alg: SignatureAlgorithm, keyType: KeyType): boolean {
  if (keyType === 'ssh-rsa')
    return alg === 'rsa-sha2-512' || alg === 'rsa-sha2-256' || alg === 'ssh-rsa';
  return alg === keyType;
}

/** Reads a signature blob from a reader positioned at its start (not length-prefixed). */
export function readSignature(r: WireReader): ParsedSignature {
  const nameBytes = r.bytes('signature algorithm');
  const name = nameBytes.length <= 32 ? nameBytes.toString('latin1') : '';
  if (!SIGNATURE_ALGORITHMS.has(name)) {
    throw new SshCertError(
      'unsupported-key',
      `unsupported signature algorithm ${JSON.stringify(decodeLossy(nameBytes))}`,
    );
  }
  const signature = r.bytes('signature');
  return { algorithm: name as SignatureAlgorithm, signature };
}

/** Parses an SSH signature blob, refusing trailing bytes. */
export function parseSignature(blob: Buffer): ParsedSignature {
  const r = new WireReader(blob);
  const sig = readSignature(r);
  r.done('signature blob');
  return sig;
}

/** Converts SSH `mpint r, mpint s` to the fixed-width r||s that node:crypto calls ieee-p1363. */
function ecdsaSshToP1363(sig: Buffer, size: number): Buffer {
  const r = new WireReader(sig);
  const rv = r.mpintPositive('ecdsa r');
  const sv = r.mpintPositive('ecdsa s');
  r.done('ecdsa signature');
  if (rv.length === 0 || sv.length === 0 || rv.length > size || sv.length > size) {
    throw malformed('ecdsa signature: r or s out of range');
  }
  const out = Buffer.alloc(2 * size);
  rv.copy(out, size - rv.length);
  sv.copy(out, 2 * size - sv.length);
  return out;
}

/**
 * Verifies `sig` (already parsed) by `key` over `data` with `keyObject`. Throws SshCertError for
 * a malformed signature body; returns false for a wrong one.
 */
export function verifyParsed(
  keyType: KeyType,
  keyBits: number,
  keyObject: KeyObject,
  data: Buffer,
  sig: ParsedSignature,
): boolean {
  if (!algorithmFitsKey(sig.algorithm, keyType)) return false;
  if (keyType === 'ssh-ed25519') {
    if (sig.signature.length !== 64) return false;
    return verify(null, data, keyObject, sig.signature);
  }
  const curve = curveOf(keyType);
  if (curve) {
    const p1363 = ecdsaSshToP1363(sig.signature, curve.size);
    return verify(curve.hash, data, { key: keyObject, dsaEncoding: 'ieee-p1363' }, p1363);
  }
  const modBytes = (keyBits + 7) >> 3;
  let raw = sig.signature;
  if (raw.length > modBytes || raw.length === 0) return false;
  if (raw.length < modBytes) {
    // OpenSSH accepts signatures with their leading zero bytes stripped.
    const padded = Buffer.alloc(modBytes);
    raw.copy(padded, modBytes - raw.length);
    raw = padded;
  }
  return verify(RSA_HASH[sig.algorithm], data, keyObject, raw);
}

/**
 * Verifies an SSH signature blob (`string alg, string sig`) over `data` with a public key, as
 * for SSH userauth or a certificate's CA signature. Returns false for anything wrong: bad
 * signature, malformed blob, algorithm not fitting the key or not allowed. Never throws.
 */
export function verifySignature(
  publicKey: PublicKey,
  data: Buffer,
  sigBlob: Buffer,
  options: VerifySignatureOptions = {},
): boolean {
  try {
    const sig = parseSignature(sigBlob);
    const allowed = options.allowedAlgorithms ?? DEFAULT_SIGNATURE_ALGORITHMS;
    if (!allowed.includes(sig.algorithm)) return false;
    return verifyParsed(publicKey.type, publicKey.bits, publicKey.keyObject, data, sig);
  } catch {
    return false;
  }
}

/** The signature algorithm used by default for a key type (RSA: rsa-sha2-512). */
export function defaultSignatureAlgorithm(type: KeyType): SignatureAlgorithm {
  return type === 'ssh-rsa' ? 'rsa-sha2-512' : type;
}

/** Signs `data` and returns the SSH signature blob (`string alg, string signature`). */
export function signData(key: PrivateKey, data: Buffer, alg?: SignatureAlgorithm): Buffer {
  const algorithm = alg ?? defaultSignatureAlgorithm(key.type);
  if (!algorithmFitsKey(algorithm, key.type)) {
    throw new SshCertError(
      'invalid-request',
      `a ${key.type} key cannot make ${algorithm} signatures`,
    );
  }
  const w = new WireWriter().string(algorithm);
  if (key.type === 'ssh-ed25519') {
    return w.bytes(sign(null, data, key.keyObject)).toBuffer();
  }
  const curve = curveOf(key.type);
  if (curve) {
    const p1363 = sign(curve.hash, data, { key: key.keyObject, dsaEncoding: 'ieee-p1363' });
    const inner = new WireWriter()
      .mpint(p1363.subarray(0, curve.size))
      .mpint(p1363.subarray(curve.size))
      .toBuffer();
    return w.bytes(inner).toBuffer();
  }
  return w.bytes(sign(RSA_HASH[algorithm], data, key.keyObject)).toBuffer();
}
