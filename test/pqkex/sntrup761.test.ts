/**
 * sntrup761 (patches/ssh2: lib/protocol/sntrup761.js) against the published known answers of the
 * NTRU Prime round-3 NIST submission, and its behaviour on bad input.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sntrup761 as kem } from './kem-modules.js';
import { firstKemKatRecord } from './nist-drbg.js';

// SHA-256 of the first record of the submission's PQCkemKAT_1763.rsp (`head -n 8 | tail -n 6`),
// as PQClean records it in crypto_kem/sntrup761/META.yml (`nistkat-sha256`).
const KAT_SHA256 = 'afc42c3a5b10f4ef69654250097ebda9b9564570f4086744b24a6daf2bd1f89a';

describe('sntrup761 KEM', function () {
  it('reproduces the NIST round-3 known-answer record (pk, sk, ct, ss)', function () {
    const record = firstKemKatRecord(kem);
    assert.equal(createHash('sha256').update(record).digest('hex'), KAT_SHA256);
  });

  it('reduces mod q and mod 3 exactly over the ranges the arithmetic needs', function () {
    // Multiply-and-shift reductions (no data-dependent division) are exact only on a range:
    // mod q for |x| <= 2^24 (products of two centred values, sums of p of them), mod 3 for
    // |x| <= q12.
    const { fqFreeze, f3Freeze } = kem._internals;
    const centred = (x: number, m: number): number => {
      const r = ((x % m) + m) % m;
      return r > (m - 1) / 2 ? r - m : r;
    };
    for (let x = -(2 ** 24); x <= 2 ** 24; x++) {
      if (fqFreeze(x) !== centred(x, 4591)) assert.fail(`fqFreeze(${x})`);
    }
    for (let x = -2295; x <= 2295; x++) {
      if (f3Freeze(x) !== centred(x, 3)) assert.fail(`f3Freeze(${x})`);
    }
  });

  it('sorts with its constant-time network as Array.prototype.sort does', function () {
    const { sortUint32 } = kem._internals;
    const random = (n: number): number[] =>
      Array.from({ length: n }, () => Math.floor(Math.random() * 2 ** 32));
    const inputs: number[][] = [
      random(761),
      random(761).sort((a, b) => a - b),
      random(761).sort((a, b) => b - a),
      Array.from({ length: 761 }, (_, i) => (i * 7919) % 3),
      [0, 2 ** 32 - 1, 1, 2 ** 32 - 2, 2 ** 31, 2 ** 31 - 1],
      ...[1, 2, 3, 5, 17, 100, 512, 513, 1000].map(random),
    ];
    for (const input of inputs) {
      const x = Float64Array.from(input);
      sortUint32(x);
      assert.deepEqual(
        [...x],
        [...input].sort((a, b) => a - b),
      );
    }
  });

  it('has the sizes of the specification', function () {
    const { publicKey, secretKey } = kem.keypair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    assert.deepEqual(
      [publicKey.length, secretKey.length, ciphertext.length, sharedSecret.length],
      [1158, 1763, 1039, 32],
    );
  });

  it('decapsulates what it encapsulates, with fresh keys each time', function () {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { publicKey, secretKey } = kem.keypair();
      const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
      assert.deepEqual(kem.decapsulate(ciphertext, secretKey), sharedSecret);
      seen.add(sharedSecret.toString('hex'));
    }
    assert.equal(seen.size, 5);
  });

  it('rejects a modified ciphertext implicitly: another key, the same one every time', function () {
    const { publicKey, secretKey } = kem.keypair();
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    for (const pos of [0, 500, 1006, 1007, 1038]) {
      const bad = Buffer.from(ciphertext);
      bad[pos]! ^= 0x01;
      const k = kem.decapsulate(bad, secretKey);
      assert.equal(k.length, 32);
      assert.notDeepEqual(k, sharedSecret);
      // Derived from the secret rho and the ciphertext, not random: no oracle in retries.
      assert.deepEqual(kem.decapsulate(bad, secretKey), k);
    }
  });

  it('refuses wrong lengths before any arithmetic', function () {
    const { publicKey, secretKey } = kem.keypair();
    assert.throws(() => kem.encapsulate(publicKey.subarray(1)), /public key length/);
    assert.throws(() => kem.decapsulate(Buffer.alloc(1038), secretKey), /ciphertext length/);
    assert.throws(() => kem.decapsulate(Buffer.alloc(1039), secretKey.subarray(1)), /secret key/);
  });
});
