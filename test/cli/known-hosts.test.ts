/**
 * The bastion host check of `exec`: host certificates against `@cert-authority` lines, pinned
 * keys, and the known_hosts file written for stock ssh.
 */
import assert from 'node:assert/strict';
import {
  encodeCertificateText,
  encodePublicKeyText,
  generatePrivateKey,
  parseCertificateText,
  signCertificate,
} from '@neetodeploy/sshcert';
import {
  checkHostKey,
  hostMatches,
  knownHostsFileText,
  parseKnownHosts,
} from '../../cli/src/known-hosts.js';

describe('cli: bastion host key checks', function () {
  const hostCa = generatePrivateKey('ssh-ed25519');
  const otherCa = generatePrivateKey('ssh-ed25519');
  const hostKey = generatePrivateKey('ssh-ed25519');
  const now = new Date();
  const caLine = `@cert-authority bastion.example,*.neetodeploy ${encodePublicKeyText(hostCa.publicKey)}`;
  const hostCert = (ca = hostCa, principals = ['bastion.example'], ttlSeconds = 600): Buffer =>
    parseCertificateText(
      encodeCertificateText(
        signCertificate(
          {
            publicKey: hostKey.publicKey,
            certType: 'host',
            keyId: 'b',
            principals,
            ttlSeconds,
            now,
          },
          ca,
        ),
      ),
    ).blob;

  it('accepts a host certificate from the trusted CA naming the host, and nothing else', function () {
    const entries = parseKnownHosts(`# comment\n${caLine}\n`);
    assert.equal(entries.length, 1);
    assert.deepEqual(
      checkHostKey(hostCert(), entries, { host: 'bastion.example', port: 2222, now }),
      { ok: true },
    );
    const wrongCa = checkHostKey(hostCert(otherCa), entries, {
      host: 'bastion.example',
      port: 2222,
      now,
    });
    assert.equal(wrongCa.ok, false);
    const wrongName = checkHostKey(hostCert(hostCa, ['elsewhere.example']), entries, {
      host: 'bastion.example',
      port: 2222,
      now,
    });
    assert.match(wrongName.ok ? '' : wrongName.reason, /not a listed principal/);
    const expired = checkHostKey(hostCert(), entries, {
      host: 'bastion.example',
      port: 2222,
      now: new Date(now.getTime() + 3600_000),
    });
    assert.match(expired.ok ? '' : expired.reason, /expired/);
    const otherHost = checkHostKey(hostCert(), entries, { host: 'evil.example', port: 2222, now });
    assert.match(otherHost.ok ? '' : otherHost.reason, /no host CA is trusted/);
    const plain = checkHostKey(hostKey.publicKey.blob, entries, {
      host: 'bastion.example',
      port: 2222,
      now,
    });
    assert.match(plain.ok ? '' : plain.reason, /plain host key but only a host CA/);
  });

  it('accepts exactly the pinned key for [host]:port', function () {
    const line = `[127.0.0.1]:2222 ${encodePublicKeyText(hostKey.publicKey)}`;
    const entries = parseKnownHosts(line);
    assert.deepEqual(
      checkHostKey(hostKey.publicKey.blob, entries, { host: '127.0.0.1', port: 2222, now }),
      { ok: true },
    );
    const other = generatePrivateKey('ssh-ed25519').publicKey.blob;
    const refused = checkHostKey(other, entries, { host: '127.0.0.1', port: 2222, now });
    assert.match(refused.ok ? '' : refused.reason, /different from the one the keys-service pins/);
    assert.equal(
      checkHostKey(hostKey.publicKey.blob, entries, { host: '127.0.0.1', port: 22, now }).ok,
      false,
    );
  });

  it('matches host patterns as OpenSSH does, negations included', function () {
    assert.ok(hostMatches(['*.neetodeploy'], ['demo.neetodeploy']));
    assert.ok(!hostMatches(['*.neetodeploy', '!demo.neetodeploy'], ['demo.neetodeploy']));
    assert.ok(hostMatches(['[127.0.0.1]:2222'], ['[127.0.0.1]:2222']));
    assert.ok(!hostMatches(['127.0.0.1'], ['127.0.0.2']));
  });

  it('writes a pinned key also under the names ssh_config looks up', function () {
    const key = encodePublicKeyText(hostKey.publicKey);
    assert.equal(
      knownHostsFileText(`[127.0.0.1]:2222 ${key}`, ['127.0.0.1', '*.neetodeploy']),
      `[127.0.0.1]:2222 ${key}\n127.0.0.1,*.neetodeploy ${key}\n`,
    );
    assert.equal(knownHostsFileText(caLine, ['127.0.0.1', '*.neetodeploy']), `${caLine}\n`);
  });
});
