/**
 * The AES-256 CTR_DRBG of the NIST PQC KAT generator (rng.c of the submissions, `randombytes`):
 * replaying it reproduces the published known-answer files. Each call ends with an update of
 * the state, so the output depends on how the bytes are split into calls, as in the original.
 */
import { createCipheriv } from 'node:crypto';

export type RandomBytes = (n: number) => Buffer;

export function nistDrbg(entropy: Buffer): RandomBytes {
  if (entropy.length !== 48) throw new Error('entropy must be 48 bytes');
  let key = Buffer.alloc(32);
  let v = Buffer.alloc(16);
  const increment = (): void => {
    for (let j = 15; j >= 0; j--) {
      v[j] = (v[j]! + 1) & 0xff;
      if (v[j] !== 0) break;
    }
  };
  const aes = (block: Buffer): Buffer => {
    const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
    return Buffer.concat([c.update(block), c.final()]);
  };
  const update = (provided: Buffer | null): void => {
    const t = Buffer.alloc(48);
    for (let i = 0; i < 3; i++) {
      increment();
      aes(v).copy(t, 16 * i);
    }
    if (provided !== null) for (let i = 0; i < 48; i++) t[i]! ^= provided[i]!;
    key = t.subarray(0, 32);
    v = Buffer.from(t.subarray(32));
  };
  update(entropy);
  return (n) => {
    const out = Buffer.alloc(n);
    for (let o = 0; o < n; o += 16) {
      increment();
      aes(v).copy(out, o, 0, Math.min(16, n - o));
    }
    update(null);
    return out;
  };
}

/** The first record of a NIST `PQCkemKAT_*.rsp` file, as `head -n 8 | tail -n 6` prints it. */
export function firstKemKatRecord(kem: {
  keypair(rand: RandomBytes): { publicKey: Buffer; secretKey: Buffer | Uint8Array };
  encapsulate(pk: Buffer, rand: RandomBytes): { ciphertext: Buffer; sharedSecret: Buffer };
}): string {
  const master = nistDrbg(Buffer.from(Array.from({ length: 48 }, (_, i) => i)));
  const seed = master(48);
  const rand = nistDrbg(seed);
  const { publicKey, secretKey } = kem.keypair(rand);
  const { ciphertext, sharedSecret } = kem.encapsulate(publicKey, rand);
  const hex = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
  return [
    'count = 0',
    `seed = ${hex(seed)}`,
    `pk = ${hex(publicKey)}`,
    `sk = ${hex(secretKey)}`,
    `ct = ${hex(ciphertext)}`,
    `ss = ${hex(sharedSecret)}`,
    '',
  ].join('\n');
}
