/**
 * Degenerate keys: every small-order ed25519 point in every encoding, and RSA exponents other
 * than odd values >= 65537, are refused when parsed, when certified and when verified.
 */
import assert from 'node:assert/strict';
import {
  checkPublicKeyStrength,
  isSmallOrderEd25519,
  parsePublicKey,
  parsePublicKeyText,
  signCertificate,
  verifyUserCertificate,
} from '@neetodeploy/sshcert';
import {
  NOW,
  NOW_S,
  assertCode,
  baseRequest,
  rawUserCertificate,
  sshMpint,
  sshString,
  testKey,
} from './helpers.js';

const P = (1n << 255n) - 19n;
function mod(a: bigint): bigint {
  return ((a % P) + P) % P;
}
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
}
function inv(a: bigint): bigint {
  return pow(a, P - 2n);
}
const D = mod(-121665n * inv(121666n));
type Point = readonly [bigint, bigint];
function add([x1, y1]: Point, [x2, y2]: Point): Point {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))];
}
/** Both x for `y` on the curve, or none. */
function xsFor(y: bigint): bigint[] {
  const u = mod((y * y - 1n) * inv(D * y * y + 1n));
  let x = pow(u, (P + 3n) / 8n);
  if (mod(x * x - u) !== 0n) x = mod(x * pow(2n, (P - 1n) / 4n));
  if (mod(x * x - u) !== 0n) return [];
  return x === 0n ? [0n] : [x, P - x];
}
function orderDivides8(p: Point): boolean {
  let q = p;
  for (let i = 0; i < 3; i++) q = add(q, q);
  return q[0] === 0n && q[1] === 1n;
}
/** 32-byte little-endian encoding of y (may be >= p: non-canonical) with x's sign bit. */
function encode(y: bigint, xOdd: boolean): Buffer {
  const b = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse();
  if (xOdd) b[31]! |= 0x80;
  return b;
}
const ed25519Blob = (pk: Buffer): Buffer =>
  Buffer.concat([sshString('ssh-ed25519'), sshString(pk)]);
const rsaBlob = (e: bigint, n: bigint): Buffer =>
  Buffer.concat([sshString('ssh-rsa'), sshMpint(e), sshMpint(n)]);

/** Every encoding of every point of order dividing 8, found by search rather than by list. */
function smallOrderEncodings(): Buffer[] {
  const order8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
  const ys = [1n, P - 1n, 0n, order8, P - order8];
  const out: Buffer[] = [];
  let points = 0;
  for (const y of ys) {
    for (const x of xsFor(y)) {
      assert.ok(orderDivides8([x, y]), `y=${y} is of small order`);
      points++;
      for (const yEnc of [y, y + P].filter((v) => v < 1n << 255n)) {
        // x = 0 has no sign: its "negative zero" encoding (sign bit set) is non-canonical.
        for (const odd of x === 0n ? [false, true] : [(x & 1n) === 1n]) out.push(encode(yEnc, odd));
      }
    }
  }
  assert.equal(points, 8, 'the cofactor subgroup has 8 points');
  return out;
}

describe('sshcert: degenerate keys', () => {
  it('the order-8 y-coordinate is of order exactly 8 (not 4)', () => {
    const y = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
    const [x] = xsFor(y);
    const p: Point = [x!, y];
    const p4 = add(add(p, p), add(p, p));
    assert.ok(!(p4[0] === 0n && p4[1] === 1n));
    assert.ok(orderDivides8(p));
  });

  it('refuses all 8 small-order ed25519 points in every encoding, canonical or not', () => {
    const encodings = smallOrderEncodings();
    assert.ok(encodings.length >= 14, `${encodings.length} encodings`);
    assert.ok(
      encodings.some((e) => e.equals(Buffer.alloc(32))),
      'all zeros is among them',
    );
    for (const pk of encodings) {
      assert.equal(isSmallOrderEd25519(pk), true, pk.toString('hex'));
      const blob = ed25519Blob(pk);
      assert.match(checkPublicKeyStrength({ type: 'ssh-ed25519', blob })!, /small order/);
      assertCode(() => parsePublicKey(blob), 'weak-key');
      assertCode(() => parsePublicKeyText(`ssh-ed25519 ${blob.toString('base64')} x`), 'weak-key');
    }
  });

  it('accepts real ed25519 keys (no false positives on 200 generated keys)', () => {
    for (let i = 0; i < 200; i++) {
      const key = testKey('ssh-ed25519', 100 + i).publicKey;
      assert.equal(checkPublicKeyStrength(key), undefined);
    }
  });

  it('refuses RSA exponents other than odd values >= 65537', () => {
    const rsa = testKey('ssh-rsa').publicKey;
    const n = BigInt(
      `0x${Buffer.from(rsa.keyObject.export({ format: 'jwk' }).n!, 'base64url').toString('hex')}`,
    );
    for (const e of [1n, 3n, 17n, 65535n, 65536n, 65538n]) {
      const blob = rsaBlob(e, n);
      assert.match(checkPublicKeyStrength({ type: 'ssh-rsa', blob }) ?? '', /exponent/, `e=${e}`);
      assert.throws(() => parsePublicKey(blob), `e=${e} parses`);
    }
    for (const e of [65537n, 65539n, (1n << 32n) + 15n]) {
      assert.equal(checkPublicKeyStrength({ type: 'ssh-rsa', blob: rsaBlob(e, n) }), undefined);
    }
    assert.equal(checkPublicKeyStrength(rsa), undefined);
  });

  it('never certifies a degenerate key, and refuses a certificate for one with weak-key', () => {
    const ca = testKey('ssh-ed25519', 2);
    const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
    const subject = { ...testKey('ssh-ed25519', 1).publicKey, blob: ed25519Blob(identity) };
    assertCode(() => signCertificate(baseRequest({ publicKey: subject }), ca), 'weak-key');

    for (const pk of [identity, Buffer.alloc(32)]) {
      const blob = rawUserCertificate('ssh-ed25519-cert-v01@openssh.com', sshString(pk), ca, {
        keyId: 'mallory@example.com:r1',
        principals: ['demo'],
        validAfter: NOW_S - 60n,
        validBefore: NOW_S + 300n,
      });
      const r = verifyUserCertificate(blob, { trustedCAs: [ca.publicKey], now: NOW });
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.reason, 'weak-key');
    }
    // The same layout with a real key verifies: the refusal is about the key alone.
    const good = rawUserCertificate(
      'ssh-ed25519-cert-v01@openssh.com',
      sshString(testKey('ssh-ed25519', 1).publicKey.blob.subarray(4 + 11 + 4)),
      ca,
      {
        keyId: 'a@example.com:r',
        principals: ['demo'],
        validAfter: NOW_S - 60n,
        validBefore: NOW_S + 300n,
      },
    );
    assert.equal(verifyUserCertificate(good, { trustedCAs: [ca.publicKey], now: NOW }).ok, true);
  });
});
