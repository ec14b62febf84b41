/**
 * sntrup761 (patches/ssh2: lib/protocol/sntrup761.js) against the published known answers of the
 * NTRU Prime round-3 NIST submission, its arithmetic against straightforward oracles (the KAT
 * reaches one key pair only: not a retried keygen, nor most of the inversions' paths), and its
 * behaviour on bad input.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sntrup761 as kem } from './kem-modules.js';
import { firstKemKatRecord } from './nist-drbg.js';

// SHA-256 of the first record of the submission's PQCkemKAT_1763.rsp (`head -n 8 | tail -n 6`),
// as PQClean records it in crypto_kem/sntrup761/META.yml (`nistkat-sha256`).
const KAT_SHA256 = 'afc42c3a5b10f4ef69654250097ebda9b9564570f4086744b24a6daf2bd1f89a';

const P = 761;
const Q = 4591;
const Q12 = (Q - 1) / 2;
const W = 286;

/** The internals the module exports for tests (kem-modules.ts types only the first few). */
interface Internals {
  fqFreeze(this: void, x: number): number;
  f3Freeze(this: void, x: number): number;
  fqRecip(this: void, a: number): number;
  fqMontgomery(this: void, x: number): number;
  f3Scale(this: void, ym: number, ys: number, cm: number, cn: number): [number, number];
  f3Add(this: void, xm: number, xs: number, tm: number, ts: number): [number, number];
  sortInt32(this: void, x: Int32Array): void;
  recips(
    this: void,
    g: Int32Array,
    s: Int32Array,
  ): { ginv: Int32Array; ok: boolean; sinv3: Int32Array };
  ringMultQ(this: void, f: Int32Array, g: Int32Array): Int32Array;
  ringMult3(this: void, f: Int32Array, g: Int32Array): Int32Array;
  smallFromWords(this: void, words: Int32Array): Int32Array;
  shortFromWords(this: void, words: Int32Array): Int32Array;
  rqEncode(this: void, h: Int32Array): Buffer;
  rqDecode(this: void, s: Uint8Array): Int32Array;
  roundedEncode(this: void, c: Int32Array): Buffer;
  roundedDecode(this: void, s: Uint8Array): Int32Array;
}
const internals = (kem as unknown as { _internals: Internals })._internals;

// ---- oracles: plain arithmetic in Z[x]/(x^p - x - 1), nothing constant-time about it

/** x mod m, centred. */
const centred = (x: number, m: number): number => {
  const r = ((x % m) + m) % m;
  return r > (m - 1) / 2 ? r - m : r;
};

/** f * g reduced with x^p = x + 1, coefficients centred mod m (exact: sums stay below 2^53). */
function ringMul(f: ArrayLike<number>, g: ArrayLike<number>, m: number): number[] {
  const fg = new Array<number>(2 * P - 1).fill(0);
  for (let i = 0; i < P; i++) {
    const fi = f[i]!;
    if (fi === 0) continue;
    for (let j = 0; j < P; j++) fg[i + j] = fg[i + j]! + fi * g[j]!;
  }
  for (let i = 2 * P - 2; i >= P; i--) {
    fg[i - P] = fg[i - P]! + fg[i]!;
    fg[i - P + 1] = fg[i - P + 1]! + fg[i]!;
  }
  return fg.slice(0, P).map((x) => centred(x, m));
}

const isOne = (h: number[]): boolean => h[0] === 1 && h.every((x, i) => i === 0 || x === 0);

const randomInt = (n: number): number => Math.floor(Math.random() * n);
const randomSmall = (): Int32Array => Int32Array.from({ length: P }, () => randomInt(3) - 1);
const randomFq = (): Int32Array => Int32Array.from({ length: P }, () => randomInt(Q) - Q12);
/** Exactly w nonzero coefficients in {-1, 1}, as keygen's f and encapsulation's r. */
function randomShort(): Int32Array {
  const s = new Int32Array(P);
  for (let i = 0; i < W; i++) s[i] = randomInt(2) * 2 - 1;
  for (let i = P - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  return s;
}

// x^p - x - 1 mod 3 = (degree 19)(degree 60)(degree 682): multiples of the degree-19 factor are
// the likeliest g that keygen has to reject (probability 3^-19). Coefficients from x^0 up.
const FACTOR19 = [-1, -1, 0, -1, -1, -1, 1, -1, 1, -1, 0, -1, 1, 1, 1, 1, -1, 0, 1, 1];

/** g * FACTOR19 mod 3 for a random g of degree < p - 19: not invertible in R3. */
function nonInvertible(): Int32Array {
  const out = new Int32Array(P);
  for (let i = 0; i < P - 19; i++) {
    const k = randomInt(3) - 1;
    for (let j = 0; j < 20; j++) out[i + j] = out[i + j]! + k * FACTOR19[j]!;
  }
  return out.map((x) => centred(x, 3));
}

/**
 * The specification's Decode (as the reference writes it), with plain division: one value mod
 * m[i] per i from the bytes of s, whatever the bytes (invalid encodings are reduced, not refused).
 */
function decodeOracle(s: Uint8Array, radices: number[]): number[] {
  let pos = 0;
  const decode = (m: number[]): number[] => {
    if (m.length === 1) {
      if (m[0]! === 1) return [0];
      return [(m[0]! <= 256 ? s[pos]! : s[pos]! + 256 * s[pos + 1]!) % m[0]!];
    }
    const m2: number[] = [];
    const bottom: [number, number][] = [];
    for (let i = 0; i + 1 < m.length; i += 2) {
      const mm = m[i]! * m[i + 1]!;
      if (mm > 256 * 16383) {
        bottom.push([s[pos]! + 256 * s[pos + 1]!, 65536]);
        pos += 2;
        m2.push(Math.ceil(Math.ceil(mm / 256) / 256));
      } else if (mm >= 16384) {
        bottom.push([s[pos]!, 256]);
        pos += 1;
        m2.push(Math.ceil(mm / 256));
      } else {
        bottom.push([0, 1]);
        m2.push(mm);
      }
    }
    if (m.length % 2 === 1) m2.push(m[m.length - 1]!);
    const r2 = decode(m2);
    const out: number[] = [];
    bottom.forEach(([r, t], j) => {
      const x = r + t * r2[j]!;
      out.push(x % m[2 * j]!, Math.floor(x / m[2 * j]!) % m[2 * j + 1]!);
    });
    if (m.length % 2 === 1) out.push(r2[r2.length - 1]!);
    return out;
  };
  return decode(radices);
}

/** Bytes that smallFromWords turns into g (coefficient c from the word (c + 1) * 0x15555556). */
function wordsFor(g: Int32Array): Buffer {
  const b = Buffer.alloc(4 * P);
  g.forEach((c, i) => b.writeUInt32LE((c + 1) * 0x15555556, 4 * i));
  return b;
}

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
    for (let x = -(2 ** 24); x <= 2 ** 24; x++) {
      if (fqFreeze(x) !== centred(x, 4591)) assert.fail(`fqFreeze(${x})`);
    }
    for (let x = -2295; x <= 2295; x++) {
      if (f3Freeze(x) !== centred(x, 3)) assert.fail(`f3Freeze(${x})`);
    }
  });

  it('reduces with Montgomery (times 2^-16 mod q, into (-q, q)) over the range the Rq loop needs', function () {
    // The Rq inversion keeps coefficients in (-q, q) and reduces differences of two products of
    // them: |x| < 2q^2.
    const { fqMontgomery } = internals;
    for (let x = -2 * Q * Q; x <= 2 * Q * Q; x++) {
      const r = fqMontgomery(x);
      if (r <= -Q || r >= Q || (r * 65536 - x) % Q !== 0) assert.fail(`fqMontgomery(${x})`);
    }
  });

  it('inverts every element of Fq', function () {
    const { fqRecip } = internals;
    assert.equal(fqRecip(0), 0);
    for (let a = -Q12; a <= Q12; a++) {
      if (a !== 0 && centred(a * fqRecip(a), Q) !== 1) assert.fail(`fqRecip(${a})`);
    }
  });

  it('adds and scales bitsliced F3 correctly in all 9 cases, lane by lane', function () {
    // One coefficient per bit lane: m (nonzero) and s (negative) planes; the loops inline these.
    const { f3Scale, f3Add } = internals;
    const planes = (xs: number[]): [number, number] => [
      xs.reduce((w, x, lane) => w | ((x !== 0 ? 1 : 0) << lane), 0),
      xs.reduce((w, x, lane) => w | ((x === -1 ? 1 : 0) << lane), 0),
    ];
    const lanes = ([m, s]: [number, number], n: number): number[] =>
      Array.from({ length: n }, (_, lane) => {
        const [mi, si] = [(m >>> lane) & 1, (s >>> lane) & 1];
        assert.ok(mi === 1 || si === 0, 'a zero coefficient has its sign bit clear');
        return mi === 0 ? 0 : si === 1 ? -1 : 1;
      });
    const F3 = [-1, 0, 1];
    const xs = F3.flatMap((x) => F3.map(() => x));
    const ys = F3.flatMap(() => F3);
    const [xm, xsign] = planes(xs);
    const [ym, ysign] = planes(ys);
    assert.deepEqual(
      lanes(f3Add(xm, xsign, ym, ysign), 9),
      xs.map((x, i) => centred(x + ys[i]!, 3)),
    );
    for (const c of F3) {
      // c as masks over every lane: c != 0, c == -1
      const cm = c !== 0 ? -1 : 0;
      const cn = c === -1 ? -1 : 0;
      assert.deepEqual(
        lanes(f3Scale(ym, ysign, cm, cn), 9),
        ys.map((y) => centred(c * y, 3)),
      );
    }
    // and in bit 31, an int32's sign bit: -1 + -1 = 1
    assert.equal(lanes(f3Add(1 << 31, 1 << 31, 1 << 31, 1 << 31), 32)[31], 1);
  });

  it('sorts with its constant-time network as Array.prototype.sort does', function () {
    const { sortInt32 } = internals;
    const random = (n: number): number[] =>
      Array.from({ length: n }, () => randomInt(2 ** 32) - 2 ** 31);
    const inputs: number[][] = [
      random(761),
      random(761).sort((a, b) => a - b),
      random(761).sort((a, b) => b - a),
      Array.from({ length: 761 }, (_, i) => (i * 7919) % 3),
      [0, 2 ** 31 - 1, -(2 ** 31), 1, -1, 2 ** 31 - 2, -(2 ** 31) + 1, 2 ** 30, -(2 ** 30)],
      ...[1, 2, 3, 5, 17, 100, 512, 513, 1000].map(random),
    ];
    for (const input of inputs) {
      const x = Int32Array.from(input);
      sortInt32(x);
      assert.deepEqual(
        [...x],
        [...input].sort((a, b) => a - b),
      );
    }
    // A comparator network sorts everything if it sorts every sequence of 0s and 1s.
    for (let n = 2; n <= 12; n++) {
      for (let bits = 0; bits < 1 << n; bits++) {
        const x = Int32Array.from({ length: n }, (_, i) => (bits >> i) & 1);
        sortInt32(x);
        for (let i = 1; i < n; i++) if (x[i - 1]! > x[i]!) assert.fail(`n=${n} bits=${bits}`);
      }
    }
  });

  it('multiplies in Rq and R3 as the schoolbook product does', function () {
    const { ringMultQ, ringMult3 } = internals;
    const ones = (c: number): Int32Array => new Int32Array(P).fill(c);
    const cases: [Int32Array, Int32Array][] = [
      [ones(Q12), ones(1)],
      [ones(-Q12), ones(1)],
      [ones(Q12), ones(-1)],
      [ones(-Q12), ones(-1)],
      [randomFq(), ones(0)],
      ...Array.from({ length: 30 }, (): [Int32Array, Int32Array] => [randomFq(), randomSmall()]),
      ...Array.from({ length: 10 }, (): [Int32Array, Int32Array] => [randomFq(), randomShort()]),
    ];
    for (const [f, g] of cases) assert.deepEqual([...ringMultQ(f, g)], ringMul(f, g, Q));
    for (let t = 0; t < 20; t++) {
      const [f, g] = [randomSmall(), randomSmall()];
      assert.deepEqual([...ringMult3(f, g)], ringMul(f, g, 3));
    }
  });

  it('inverts in R3 and Rq (keygen), and tells a g that is not invertible', function () {
    this.timeout(60_000);
    const { recips } = internals;
    const unit = (c: number, i = 0): Int32Array => {
      const u = new Int32Array(P);
      u[i] = c;
      return u;
    };
    const cases: [Int32Array, Int32Array][] = [
      [unit(1), unit(1)],
      [unit(-1), unit(-1)],
      [unit(1, 1), unit(1, P - 1)],
      [unit(-1, P - 1), unit(1, 1)],
      ...Array.from({ length: 150 }, (): [Int32Array, Int32Array] => [
        randomSmall(),
        randomShort(),
      ]),
      ...Array.from({ length: 50 }, (): [Int32Array, Int32Array] => [
        randomSmall(),
        randomSmall(), // any nonzero s: x^p - x - 1 is irreducible mod q
      ]),
    ];
    for (const [g, s] of cases) {
      const { ginv, ok, sinv3 } = recips(g, s);
      assert.equal(ok, true);
      assert.ok(isOne(ringMul(g, ginv, 3)), 'g * (1/g) = 1 in R3');
      assert.ok(
        isOne(
          ringMul(
            s.map((x) => 3 * x),
            sinv3,
            Q,
          ),
        ),
        '3s * (1/(3s)) = 1 in Rq',
      );
    }
    // The factor is one of x^p - x - 1 mod 3 (so its multiples are not invertible)
    const rem = [-1, -1, ...new Array<number>(P - 2).fill(0), 1]; // x^p - x - 1, from x^0 up
    for (let top = P; top >= 19; top--) {
      const k = centred(rem[top]! * FACTOR19[19]!, 3);
      for (let j = 0; j < 20; j++)
        rem[top - 19 + j] = centred(rem[top - 19 + j]! - k * FACTOR19[j]!, 3);
    }
    assert.ok(
      rem.every((x) => x === 0),
      'the factor divides x^p - x - 1 mod 3',
    );
    for (const g of [new Int32Array(P), ...Array.from({ length: 40 }, nonInvertible)]) {
      assert.equal(recips(g, randomShort()).ok, false);
    }
  });

  it('retries keygen with the next draw when g is not invertible, as the reference does', function () {
    // The reference draws g (4p bytes) until it is invertible, then f (4p bytes), then rho.
    const [gBad, g, f, rho] = [
      wordsFor(nonInvertible()),
      randomBytes(4 * P),
      randomBytes(4 * P),
      randomBytes(191),
    ];
    const replay = (chunks: Buffer[]): { rand: (n: number) => Buffer; sizes: number[] } => {
      const sizes: number[] = [];
      return {
        sizes,
        rand: (n) => {
          sizes.push(n);
          const chunk = chunks.shift()!;
          assert.equal(chunk.length, n);
          return chunk;
        },
      };
    };
    const words = (b: Buffer): Int32Array =>
      Int32Array.from({ length: P }, (_, i) => b.readInt32LE(4 * i));
    assert.equal(internals.recips(internals.smallFromWords(words(gBad)), randomShort()).ok, false);
    const retried = replay([gBad, g, f, rho]);
    const direct = replay([g, f, rho]);
    const a = kem.keypair(retried.rand);
    const b = kem.keypair(direct.rand);
    assert.deepEqual(retried.sizes, [4 * P, 4 * P, 4 * P, 191]);
    assert.deepEqual(direct.sizes, [4 * P, 4 * P, 191]);
    assert.deepEqual(a, b);
    // and that key pair is the one of g and f: the secret key holds f and 1/g mod 3
    const coefficients = (bytes: Buffer): Int32Array =>
      Int32Array.from({ length: P }, (_, i) => ((bytes[i >> 2]! >> (2 * (i & 3))) & 3) - 1);
    assert.deepEqual(
      coefficients(a.secretKey.subarray(0, 191)),
      internals.shortFromWords(words(f)),
    );
    const ginv = coefficients(a.secretKey.subarray(191, 382));
    assert.ok(isOne(ringMul(internals.smallFromWords(words(g)), ginv, 3)));
    const { ciphertext, sharedSecret } = kem.encapsulate(a.publicKey);
    assert.deepEqual(kem.decapsulate(ciphertext, a.secretKey), sharedSecret);
  });

  it('decodes any bytes as the specification does, and what it encodes back', function () {
    const { rqEncode, rqDecode, roundedEncode, roundedDecode } = internals;
    const inputs = [
      Buffer.alloc(1158),
      Buffer.alloc(1158, 0xff),
      ...Array.from({ length: 20 }, () => randomBytes(1158)),
    ];
    for (const s of inputs) {
      assert.deepEqual(
        [...rqDecode(s)],
        decodeOracle(s, new Array<number>(P).fill(Q)).map((x) => x - Q12),
      );
      const c = s.subarray(0, 1007);
      assert.deepEqual(
        [...roundedDecode(c)],
        decodeOracle(c, new Array<number>(P).fill((Q + 2) / 3)).map((x) => 3 * x - Q12),
      );
    }
    for (let t = 0; t < 20; t++) {
      const h = randomFq();
      assert.deepEqual(rqDecode(rqEncode(h)), h);
      const c = h.map((x) => x - centred(x, 3)); // rounded: multiples of 3
      assert.deepEqual(roundedDecode(roundedEncode(c)), c);
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
