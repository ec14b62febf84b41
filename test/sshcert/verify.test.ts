/**
 * `sshcert/src/verify.ts`: certificate verification: the reason reported for each way a
 * certificate can fail, with the clock injected.
 */
import assert from 'node:assert/strict';
import {
  signCertificate,
  verifyCertificate,
  verifyUserCertificate,
  type Certificate,
  type VerifyFailureReason,
  type VerifyOptions,
} from '@neetodeploy/sshcert';
import { sshString, testKey, NOW, baseRequest } from './helpers.js';

describe('sshcert: verification reasons', () => {
  const ca = testKey('ssh-ed25519');
  const otherCa = testKey('ssh-ed25519', 5);
  const opts = (o: Partial<VerifyOptions> = {}): VerifyOptions => ({
    trustedCAs: [otherCa.publicKey, ca.publicKey],
    now: NOW,
    ...o,
  });
  const good = (): Certificate =>
    signCertificate(
      baseRequest({
        criticalOptions: { 'source-address': '192.0.2.0/24,2001:db8::/32' },
        extensions: { 'permit-pty': '' },
      }),
      ca,
    );

  function reasonOf(cert: Certificate | Buffer, o: VerifyOptions): VerifyFailureReason | 'ok' {
    const r = verifyCertificate(cert, o);
    return r.ok ? 'ok' : r.reason;
  }

  it('accepts a good certificate from any trusted CA and returns it', () => {
    const r = verifyCertificate(
      good().blob,
      opts({ principal: 'demo', sourceAddress: '192.0.2.9' }),
    );
    assert.ok(r.ok);
    assert.equal(r.certificate.keyId, 'alice@example.com:req1');
    assert.equal(reasonOf(good(), opts({ sourceAddress: '::ffff:192.0.2.9' })), 'ok');
  });

  const reasons: [VerifyFailureReason, () => VerifyFailureReason | 'ok'][] = [
    ['malformed', () => reasonOf(good().blob.subarray(0, 100), opts())],
    [
      'unsupported-key',
      () =>
        reasonOf(
          Buffer.concat([sshString('ssh-dss-cert-v01@openssh.com'), Buffer.alloc(8)]),
          opts(),
        ),
    ],
    ['wrong-type', () => reasonOf(good(), opts({ certType: 'host', sourceAddress: '192.0.2.1' }))],
    ['untrusted-ca', () => reasonOf(good(), { trustedCAs: [otherCa.publicKey], now: NOW })],
    [
      'bad-signature',
      () => {
        const blob = Buffer.from(good().blob);
        blob[blob.length - 1]! ^= 1;
        return reasonOf(blob, opts({ sourceAddress: '192.0.2.1' }));
      },
    ],
    [
      'not-yet-valid',
      () =>
        reasonOf(
          good(),
          opts({ now: new Date(NOW.getTime() - 61_000), sourceAddress: '192.0.2.1' }),
        ),
    ],
    [
      'expired',
      () =>
        reasonOf(
          good(),
          opts({ now: new Date(NOW.getTime() + 300_000), sourceAddress: '192.0.2.1' }),
        ),
    ],
    [
      'principal-not-listed',
      () => reasonOf(good(), opts({ principal: 'other', sourceAddress: '192.0.2.1' })),
    ],
    [
      'unknown-critical-option',
      () =>
        reasonOf(
          signCertificate(baseRequest({ criticalOptions: { 'verify-required': '' } }), ca),
          opts(),
        ),
    ],
    ['source-address-not-allowed', () => reasonOf(good(), opts({ sourceAddress: '198.51.100.1' }))],
    [
      'revoked',
      () =>
        reasonOf(
          good(),
          opts({ sourceAddress: '192.0.2.1', revoked: { isRevoked: (c) => c.serial === 42n } }),
        ),
    ],
  ];
  for (const [reason, check] of reasons) {
    it(`reports ${reason}`, () => assert.equal(check(), reason));
  }

  it('checks validity bounds exactly as OpenSSH (validAfter inclusive, validBefore exclusive)', () => {
    const cert = good();
    const at = (s: bigint): Date => new Date(Number(s) * 1000);
    const o = { sourceAddress: '192.0.2.1' };
    assert.equal(reasonOf(cert, opts({ ...o, now: at(cert.validAfter) })), 'ok');
    assert.equal(reasonOf(cert, opts({ ...o, now: at(cert.validAfter - 1n) })), 'not-yet-valid');
    assert.equal(reasonOf(cert, opts({ ...o, now: at(cert.validBefore - 1n) })), 'ok');
    assert.equal(reasonOf(cert, opts({ ...o, now: at(cert.validBefore) })), 'expired');
  });

  it('requires a client address when the certificate has source-address', () => {
    const r = verifyCertificate(good(), opts());
    assert.ok(!r.ok);
    assert.equal(r.reason, 'source-address-not-allowed');
    assert.equal(
      r.certificate?.serial,
      42n,
      'a parsed but refused certificate is returned for logging',
    );
  });

  it('lets callers declare the critical options they understand', () => {
    const cert = signCertificate(baseRequest({ criticalOptions: { 'verify-required': '' } }), ca);
    assert.equal(reasonOf(cert, opts({ knownCriticalOptions: ['verify-required'] })), 'ok');
  });

  it('verifyUserCertificate refuses host certificates', () => {
    const host = signCertificate(baseRequest({ certType: 'host' }), ca);
    const r = verifyUserCertificate(host, opts({ certType: 'host' }));
    assert.ok(!r.ok && r.reason === 'wrong-type');
    assert.ok(verifyCertificate(host, opts({ certType: 'host' })).ok);
  });

  it('matches host principals as patterns, user principals literally', () => {
    const host = signCertificate(
      baseRequest({ certType: 'host', principals: ['*.neetodeploy'] }),
      ca,
    );
    assert.equal(reasonOf(host, opts({ certType: 'host', principal: 'demo.neetodeploy' })), 'ok');
    assert.equal(
      reasonOf(host, opts({ certType: 'host', principal: 'demo.example' })),
      'principal-not-listed',
    );
    const user = signCertificate(baseRequest({ principals: ['*'] }), ca);
    assert.equal(reasonOf(user, opts({ principal: 'demo' })), 'principal-not-listed');
  });

  it('does not accept a CA signature made with a different CA key of the same type', () => {
    const cert = good();
    // Swap the embedded CA key for a trusted one: the signature no longer matches.
    const forged = Buffer.from(cert.blob);
    const caBlob = ca.publicKey.blob;
    const at = forged.indexOf(caBlob);
    otherCa.publicKey.blob.copy(forged, at);
    assert.equal(reasonOf(forged, opts({ sourceAddress: '192.0.2.1' })), 'bad-signature');
  });
});
