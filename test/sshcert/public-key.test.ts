/**
 * `sshcert/src/public-key.ts`: the SSH public key forms (text and wire), fingerprints, and what is
 * refused as unusable or unsafe.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  SshCertError,
  encodePublicKeyText,
  fingerprint,
  generatePrivateKey,
  parseCertificate,
  parsePublicKey,
  parsePublicKeyText,
  publicKeyFromKeyObject,
  signCertificate,
  signData,
  verifyCertificate,
  verifySignature,
} from '@neetodeploy/sshcert';
import { KEY_TYPES, sshString, testKey, assertCode, NOW, baseRequest } from './helpers.js';

describe('sshcert: public keys', () => {
  for (const type of KEY_TYPES) {
    it(`${type}: text and wire forms round-trip, fingerprint is SHA256 of the blob`, () => {
      const key = testKey(type).publicKey;
      const text = encodePublicKeyText(key, 'me@host');
      assert.ok(text.startsWith(`${type} `));
      const back = parsePublicKeyText(text);
      assert.equal(back.type, type);
      assert.equal(back.comment, 'me@host');
      assert.ok(back.blob.equals(key.blob));
      assert.ok(parsePublicKey(key.blob).blob.equals(key.blob));
      const expected = createHash('sha256').update(key.blob).digest('base64').replace(/=+$/, '');
      assert.equal(fingerprint(key), `SHA256:${expected}`);
      assert.ok(!fingerprint(key).endsWith('='));
      assert.equal(back.keyObject.type, 'public');
    });
  }

  it('reads one key line: surrounding whitespace is fine, a second line is malformed', () => {
    const line = encodePublicKeyText(testKey('ssh-ed25519').publicKey, 'me@host');
    assert.equal(parsePublicKeyText(`  ${line}\r\n`).comment, 'me@host');
    const other = encodePublicKeyText(testKey('ecdsa-sha2-nistp256').publicKey, 'other');
    for (const text of [`${line}\n${other}`, `${line}\r${other}`, `${line} a\nb`]) {
      assertCode(() => parsePublicKeyText(text), 'malformed', /one line/);
    }
  });

  it('bits: 256 for ed25519, curve size for ecdsa, modulus size for rsa', () => {
    assert.equal(testKey('ssh-ed25519').publicKey.bits, 256);
    assert.equal(testKey('ecdsa-sha2-nistp384').publicKey.bits, 384);
    assert.equal(testKey('ecdsa-sha2-nistp521').publicKey.bits, 521);
    assert.equal(testKey('ssh-rsa').publicKey.bits, 2048);
  });

  it('refuses DSA clearly', () => {
    const blob = Buffer.concat([sshString('ssh-dss'), sshString(Buffer.alloc(129, 1))]);
    assertCode(() => parsePublicKey(blob), 'unsupported-key', /DSA/);
    assertCode(
      () => parsePublicKeyText(`ssh-dss ${blob.toString('base64')} x`),
      'unsupported-key',
      /DSA/,
    );
    const dsa = generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 });
    assertCode(() => publicKeyFromKeyObject(dsa.publicKey), 'unsupported-key', /DSA/);
  });

  it('refuses RSA under 2048 bits with weak-key', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assertCode(() => publicKeyFromKeyObject(weak.publicKey), 'weak-key', /1024 bits/);
    const jwk = weak.publicKey.export({ format: 'jwk' });
    const mp = (b64: string): Buffer => {
      const b = Buffer.from(b64, 'base64url');
      return sshString(b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
    };
    const blob = Buffer.concat([sshString('ssh-rsa'), mp(jwk.e!), mp(jwk.n!)]);
    assertCode(() => parsePublicKey(blob), 'weak-key');
  });

  it('refuses truncated blobs, trailing bytes, lying text and unknown types', () => {
    const blob = testKey('ssh-ed25519').publicKey.blob;
    assertCode(() => parsePublicKey(blob.subarray(0, blob.length - 1)), 'malformed');
    assertCode(() => parsePublicKey(Buffer.concat([blob, Buffer.from([0])])), 'malformed');
    assertCode(
      () =>
        parsePublicKeyText(
          `ssh-ed25519 ${Buffer.concat([blob, Buffer.from([0])]).toString('base64')}`,
        ),
      'malformed',
    );
    assertCode(() => parsePublicKeyText(`ssh-rsa ${blob.toString('base64')}`), 'malformed');
    assertCode(() => parsePublicKeyText('ssh-ed25519 !!!'), 'malformed');
    assertCode(() => parsePublicKeyText('nonsense'), 'malformed');
    assertCode(
      () => parsePublicKey(Buffer.concat([sshString('ssh-foo'), sshString('x')])),
      'unsupported-key',
    );
    assertCode(() => parsePublicKey(Buffer.from([0xff, 0xff, 0xff, 0xff])), 'malformed');
  });

  it('refuses an ecdsa point that is not on the curve', () => {
    const q = Buffer.alloc(65, 7);
    q[0] = 4;
    const blob = Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(q),
    ]);
    assertCode(() => parsePublicKey(blob), 'malformed');
  });

  it('ecdsa point validation refuses exactly what node:crypto refuses to import', () => {
    const curves = [
      ['ecdsa-sha2-nistp256', 'nistp256', 'P-256', 32],
      ['ecdsa-sha2-nistp384', 'nistp384', 'P-384', 48],
      ['ecdsa-sha2-nistp521', 'nistp521', 'P-521', 66],
    ] as const;
    // Field primes, written independently of the library.
    const primes: Record<string, bigint> = {
      nistp256: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
      nistp384: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
      nistp521: 2n ** 521n - 1n,
    };
    const toBytes = (n: bigint, size: number): Buffer =>
      Buffer.from(n.toString(16).padStart(size * 2, '0'), 'hex');
    const toBig = (b: Buffer): bigint => BigInt(`0x${b.toString('hex')}`);
    for (const [type, id, crv, size] of curves) {
      const p = primes[id]!;
      const points: Buffer[][] = [];
      for (let i = 0; i < 4; i++) {
        const q = generatePrivateKey(type)
          .publicKey.blob.subarray(-(1 + 2 * size))
          .subarray(1);
        const x = q.subarray(0, size);
        const y = q.subarray(size);
        points.push(
          [x, y],
          [x, toBytes((toBig(y) + 1n) % 2n ** BigInt(size * 8), size)],
          [x, toBytes(p - toBig(y), size)], // the negated point: on the curve
          [toBytes(p, size), y],
          [x, toBytes(p, size)],
          [randomBytes(size), randomBytes(size)],
        );
        // The same point with y + p: equal modulo p, but not a valid encoding.
        if (toBig(y) + p < 2n ** BigInt(size * 8)) points.push([x, toBytes(toBig(y) + p, size)]);
      }
      if (id === 'nistp521') points.push([Buffer.alloc(size, 0xff), Buffer.alloc(size, 0xff)]);
      let accepted = 0;
      let refused = 0;
      for (const [x, y] of points) {
        const blob = Buffer.concat([
          sshString(type),
          sshString(id),
          sshString(Buffer.concat([Buffer.from([4]), x!, y!])),
        ]);
        let nodeOk = true;
        try {
          createPublicKey({
            key: { kty: 'EC', crv, x: x!.toString('base64url'), y: y!.toString('base64url') },
            format: 'jwk',
          });
        } catch {
          nodeOk = false;
        }
        let ours = true;
        try {
          parsePublicKey(blob);
        } catch (err) {
          assert.ok(err instanceof SshCertError && err.code === 'malformed', String(err));
          ours = false;
        }
        assert.equal(ours, nodeOk, `${type} x=${x!.toString('hex')} y=${y!.toString('hex')}`);
        const text = `${type} ${blob.toString('base64')}`;
        if (ours) {
          assert.ok(parsePublicKeyText(text).blob.equals(blob));
          accepted++;
        } else {
          assertCode(() => parsePublicKeyText(text), 'malformed', /not on the curve/);
          refused++;
        }
      }
      assert.ok(
        accepted >= 8 && refused >= 12,
        `${type}: ${accepted} accepted, ${refused} refused`,
      );
    }
  });

  for (const type of KEY_TYPES) {
    it(`${type}: a parsed key builds an equal KeyObject on first use, and it verifies`, () => {
      const key = testKey(type);
      const parsed = parsePublicKeyText(encodePublicKeyText(key.publicKey, 'c'));
      const data = randomBytes(64);
      assert.ok(verifySignature(parsed, data, signData(key, data)));
      assert.deepEqual(
        parsed.keyObject.export({ format: 'jwk' }),
        key.publicKey.keyObject.export({ format: 'jwk' }),
      );
      assert.equal(parsed.keyObject, parsed.keyObject, 'built once');
    });
  }

  it("a certificate's unusable subject key throws SshCertError when its KeyObject is asked for", () => {
    const q = Buffer.alloc(65, 7);
    q[0] = 4;
    const blob = Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(q),
    ]);
    const ca = testKey('ssh-ed25519');
    const cert = signCertificate(
      {
        publicKey: {
          type: 'ecdsa-sha2-nistp256',
          blob,
          bits: 256,
          get keyObject(): never {
            throw new Error('not used by signing');
          },
        },
        certType: 'user',
        keyId: 'k',
        principals: ['demo'],
        ttlSeconds: 60,
        now: NOW,
      },
      ca,
    );
    const parsed = parseCertificate(cert.blob);
    assert.ok(
      verifyCertificate(parsed, { trustedCAs: [ca.publicKey], now: NOW, principal: 'demo' }).ok,
    );
    assertCode(() => parsed.publicKey.keyObject, 'malformed', /invalid ecdsa public key/);
    assertCode(() => parsePublicKey(blob), 'malformed', /not on the curve/);
  });
  // A bastion keeps each connection's parsed certificate for the connection's life. A cached blob
  // that is a slice of Buffer's shared 8 KiB pool keeps the whole slab alive: one per session.
  it("a parsed certificate's keys keep no memory beyond the certificate's own bytes", () => {
    for (const type of KEY_TYPES) {
      const wire = signCertificate(baseRequest(), testKey(type)).blob;
      const own = Buffer.alloc(wire.length);
      wire.copy(own);
      const cert = parseCertificate(own);
      const subject = cert.publicKey.blob;
      assert.equal(subject.byteOffset, 0, `${type}: subject key blob is not a slice`);
      assert.equal(subject.buffer.byteLength, subject.length, `${type}: in memory of its own`);
      assert.ok(parsePublicKey(subject).blob.equals(subject));
      assert.equal(cert.publicKey.blob, subject, 'built once');
      assert.equal(cert.signatureKey.blob.buffer, own.buffer, `${type}: CA key is a view of it`);
    }
  });
});
