/**
 * `sshcert/src/signature.ts`: userauth signatures: signing and verifying with each key type, and
 * the wire form of each algorithm.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  isCertificateAlgorithm,
  parseSignature,
  signCertificate,
  signData,
  verifySignature,
  type SignatureAlgorithm,
} from '@neetodeploy/sshcert';
import { sshString, testKey, userauthSignedData, assertCode } from './helpers.js';

describe('sshcert: userauth signatures', () => {
  const cases: [Parameters<typeof testKey>[0], SignatureAlgorithm][] = [
    ['ssh-ed25519', 'ssh-ed25519'],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256'],
    ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384'],
    ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521'],
    ['ssh-rsa', 'rsa-sha2-256'],
    ['ssh-rsa', 'rsa-sha2-512'],
  ];
  for (const [type, alg] of cases) {
    it(`${alg}: a userauth signature over a certificate verifies with the certified key`, () => {
      const user = testKey(type, 1);
      const ca = testKey('ssh-ed25519', 2);
      const cert = signCertificate(
        {
          publicKey: user.publicKey,
          certType: 'user',
          keyId: 'k',
          principals: ['app'],
          ttlSeconds: 60,
        },
        ca,
      );
      const certAlg = type === 'ssh-rsa' ? `${alg}-cert-v01@openssh.com` : cert.type;
      assert.ok(isCertificateAlgorithm(certAlg));
      const data = userauthSignedData(randomBytes(32), 'app', certAlg, cert.blob);
      const sig = signData(user, data, alg);
      assert.equal(parseSignature(sig).algorithm, alg);
      assert.equal(verifySignature(cert.publicKey, data, sig), true);
      assert.equal(verifySignature(cert.publicKey, data, sig, { allowedAlgorithms: [alg] }), true);
      const other: SignatureAlgorithm = alg === 'rsa-sha2-256' ? 'rsa-sha2-512' : 'rsa-sha2-256';
      assert.equal(
        verifySignature(cert.publicKey, data, sig, { allowedAlgorithms: [other] }),
        false,
      );
      const tampered = Buffer.from(data);
      tampered[tampered.length - 1]! ^= 1;
      assert.equal(verifySignature(cert.publicKey, tampered, sig), false);
      const badSig = Buffer.from(sig);
      badSig[badSig.length - 2]! ^= 0x10;
      assert.equal(verifySignature(cert.publicKey, data, badSig), false);
      assert.equal(verifySignature(testKey(type, 3).publicKey, data, sig), false);
      for (let cut = 0; cut < sig.length; cut += 7) {
        assert.equal(verifySignature(cert.publicKey, data, sig.subarray(0, cut)), false);
      }
      assert.equal(
        verifySignature(cert.publicKey, data, Buffer.concat([sig, Buffer.from([0])])),
        false,
      );
    });
  }

  it('ecdsa signatures are SSH mpints (r, s), with a leading zero exactly when the high bit is set', () => {
    const key = testKey('ecdsa-sha2-nistp256');
    for (let i = 0; i < 20; i++) {
      const { signature } = parseSignature(signData(key, randomBytes(16)));
      let off = 0;
      for (let part = 0; part < 2; part++) {
        const len = signature.readUInt32BE(off);
        const v = signature.subarray(off + 4, off + 4 + len);
        assert.ok(len <= 33);
        if (v[0] === 0) assert.ok(v[1]! & 0x80, 'no superfluous leading zero');
        else assert.ok(!(v[0]! & 0x80), 'positive');
        off += 4 + len;
      }
      assert.equal(off, signature.length);
    }
  });

  it('RSA signs rsa-sha2-512 by default; ssh-rsa (SHA-1) is refused unless allowed', () => {
    const key = testKey('ssh-rsa');
    const data = randomBytes(20);
    assert.equal(parseSignature(signData(key, data)).algorithm, 'rsa-sha2-512');
    const sha1 = signData(key, data, 'ssh-rsa');
    assert.equal(verifySignature(key.publicKey, data, sha1), false);
    assert.equal(
      verifySignature(key.publicKey, data, sha1, { allowedAlgorithms: ['ssh-rsa'] }),
      true,
    );
  });

  it('refuses mismatched key and algorithm and never throws on garbage', () => {
    const ed = testKey('ssh-ed25519');
    assertCode(() => signData(ed, Buffer.alloc(1), 'rsa-sha2-256'), 'invalid-request');
    const data = Buffer.from('x');
    const rsaSig = signData(testKey('ssh-rsa'), data);
    assert.equal(verifySignature(ed.publicKey, data, rsaSig), false);
    for (const junk of [Buffer.alloc(0), Buffer.from([0, 0, 0, 9]), randomBytes(100)]) {
      assert.equal(verifySignature(ed.publicKey, data, junk), false);
    }
    assertCode(
      () => parseSignature(Buffer.concat([sshString('ssh-dss'), sshString('x')])),
      'unsupported-key',
    );
  });
});
