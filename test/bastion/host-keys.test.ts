import assert from 'node:assert/strict';
import { encodeCertificateText, generatePrivateKey, signCertificate } from '@neetodeploy/sshcert';
import { earliestCertificateExpiry } from '../../bastion/src/host-keys.js';

describe('bastion host keys: the host certificate expiry the chart alerts on', function () {
  const ca = generatePrivateKey('ssh-ed25519');
  const now = new Date('2026-12-01T00:00:00Z');
  function hostCertificate(ttlSeconds: number): string {
    const cert = signCertificate(
      {
        publicKey: generatePrivateKey('ssh-ed25519').publicKey,
        certType: 'host',
        keyId: 'bastion',
        principals: ['bastion.example'],
        ttlSeconds,
        now,
        serial: 1n,
      },
      ca,
    );
    return encodeCertificateText(cert);
  }

  it('is the earliest valid-before of the served certificates, in Unix seconds', function () {
    const key = Buffer.from('unused');
    const expiry = earliestCertificateExpiry([
      { key, certificate: hostCertificate(86_400 * 30) },
      { key, certificate: hostCertificate(86_400) },
      { key },
    ]);
    assert.equal(expiry, now.getTime() / 1000 + 86_400);
  });

  it('is undefined without host certificates', function () {
    assert.equal(earliestCertificateExpiry([{ key: Buffer.from('k') }]), undefined);
  });
});
