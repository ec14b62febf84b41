/**
 * Raw Ed25519 key bytes from a node:crypto KeyObject, read from the fixed DER layouts (RFC 8410)
 * rather than `export({ format: 'jwk' })`: on Node 20, exporting a freshly generated Ed25519 key
 * as JWK can deadlock the process (the export holds the key's mutex while it allocates, and the
 * garbage collection that allocation triggers destroys the key's generation job, which takes the
 * same mutex). DER export does not allocate JS values under that lock.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { SshCertError } from './errors.js';

/** SubjectPublicKeyInfo for id-Ed25519, up to the 32-byte key. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** OneAsymmetricKey (v1) for id-Ed25519, up to the 32-byte seed. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function tail(der: Buffer, prefix: Buffer, what: string): Buffer {
  if (der.length !== prefix.length + 32 || !der.subarray(0, prefix.length).equals(prefix)) {
    throw new SshCertError('malformed', `unexpected Ed25519 ${what} encoding`);
  }
  return Buffer.from(der.subarray(prefix.length));
}

/** The 32-byte public key of an Ed25519 public or private KeyObject. */
export function ed25519PublicBytes(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return tail(pub.export({ format: 'der', type: 'spki' }), SPKI_PREFIX, 'public key');
}

/** The 32-byte seed of an Ed25519 private KeyObject (OpenSSH stores seed || public key). */
export function ed25519Seed(key: KeyObject): Buffer {
  return tail(key.export({ format: 'der', type: 'pkcs8' }), PKCS8_PREFIX, 'private key');
}
