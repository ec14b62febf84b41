import assert from 'node:assert/strict';
import {
  SshCertError,
  generatePrivateKey,
  signData,
  type CertificateRequest,
  type KeyType,
  type PrivateKey,
} from '@neetodeploy/sshcert';

export const KEY_TYPES: readonly KeyType[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
];

/** Short names as `ssh-keygen -t` takes them, with the `-b` size for each type. */
export const KEYGEN_ARGS: Readonly<Record<KeyType, readonly string[]>> = {
  'ssh-ed25519': ['-t', 'ed25519'],
  'ecdsa-sha2-nistp256': ['-t', 'ecdsa', '-b', '256'],
  'ecdsa-sha2-nistp384': ['-t', 'ecdsa', '-b', '384'],
  'ecdsa-sha2-nistp521': ['-t', 'ecdsa', '-b', '521'],
  'ssh-rsa': ['-t', 'rsa', '-b', '2048'],
};

const cache = new Map<string, PrivateKey>();

/** A key per (type, slot), generated once per test process (RSA generation is slow). */
export function testKey(type: KeyType, slot = 0): PrivateKey {
  const id = `${type}/${slot}`;
  let k = cache.get(id);
  if (!k) {
    k = generatePrivateKey(type, { bits: 2048, comment: `test-${type}-${slot}` });
    cache.set(id, k);
  }
  return k;
}

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/**
 * The data a client signs for SSH publickey userauth (RFC 4252 §7), built independently of the
 * library: session id, SSH_MSG_USERAUTH_REQUEST, user, service, "publickey", TRUE, algorithm, key.
 */
export function userauthSignedData(
  sessionId: Buffer,
  user: string,
  algorithm: string,
  keyBlob: Buffer,
): Buffer {
  return Buffer.concat([
    sshString(sessionId),
    Buffer.from([50]),
    sshString(user),
    sshString('ssh-connection'),
    sshString('publickey'),
    Buffer.from([1]),
    sshString(algorithm),
    sshString(keyBlob),
  ]);
}

export { sshString };

/** Asserts that `fn` throws an SshCertError with this code (and a message matching `message`). */
export function assertCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SshCertError, `expected SshCertError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The clock the certificate tests inject, and the same instant in OpenSSH seconds. */
export const NOW = new Date('2030-01-01T00:00:00Z');
export const NOW_S = BigInt(NOW.getTime() / 1000);

/** A valid user certificate request for `demo`, signed at NOW, with a fixed serial. */
export function baseRequest(overrides: Partial<CertificateRequest> = {}): CertificateRequest {
  return {
    publicKey: testKey('ssh-ed25519', 1).publicKey,
    certType: 'user',
    keyId: 'alice@example.com:req1',
    principals: ['demo'],
    ttlSeconds: 300,
    now: NOW,
    serial: 42n,
    ...overrides,
  };
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

/** An SSH mpint of a non-negative value. */
export function sshMpint(v: bigint): Buffer {
  if (v === 0n) return sshString(Buffer.alloc(0));
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

/**
 * A user certificate blob for key fields the library would refuse to certify (a degenerate
 * key), laid out per PROTOCOL.certkeys by hand and signed by `ca` with `signData`: what an
 * attacker holding a CA's signature on such a key would present.
 */
export function rawUserCertificate(
  certType: 'ssh-ed25519-cert-v01@openssh.com' | 'ssh-rsa-cert-v01@openssh.com',
  keyFields: Buffer,
  ca: PrivateKey,
  options: {
    keyId: string;
    principals: readonly string[];
    validAfter: bigint;
    validBefore: bigint;
  },
): Buffer {
  const signed = Buffer.concat([
    sshString(certType),
    sshString(Buffer.alloc(32, 7)),
    keyFields,
    u64(1n),
    u32(1),
    sshString(options.keyId),
    sshString(Buffer.concat(options.principals.map((p) => sshString(p)))),
    u64(options.validAfter),
    u64(options.validBefore),
    sshString(Buffer.alloc(0)),
    sshString(Buffer.concat([sshString('permit-pty'), sshString(Buffer.alloc(0))])),
    sshString(Buffer.alloc(0)),
    sshString(ca.publicKey.blob),
  ]);
  return Buffer.concat([signed, sshString(signData(ca, signed))]);
}
