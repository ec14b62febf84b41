/**
 * `sshcert/src/certificate.ts`: certificates: signing with request defaults, the round trip of
 * every identity field, and parsing.
 */
import assert from 'node:assert/strict';
import {
  encodeCertificateText,
  encodePublicKeyText,
  fingerprint,
  isCertificateAlgorithm,
  parseCertificate,
  parseCertificateText,
  parseSignature,
  signCertificate,
  type CertificateIdentity,
} from '@neetodeploy/sshcert';
import { sshString, testKey, assertCode, NOW, NOW_S, baseRequest } from './helpers.js';

describe('sshcert: certificates', () => {
  it('round-trips every field of CertificateIdentity through sign and parse', () => {
    // Adding a field to CertificateIdentity without covering it here fails type-checking.
    const expected = {
      certType: 'host',
      serial: 0xfedcba9876543210n,
      keyId: 'bastion.example.com ünïcode',
      principals: ['bastion.example.com', '*.neetodeploy', 'x'],
      validAfter: NOW_S - 120n,
      validBefore: NOW_S + 3600n,
      criticalOptions: { 'force-command': '/bin/echo hi', 'source-address': '10.0.0.0/8,::1' },
      extensions: { 'permit-pty': '', 'custom@example.com': 'value', 'permit-port-forwarding': '' },
    } satisfies Required<CertificateIdentity>;
    const cert = signCertificate(
      {
        publicKey: testKey('ecdsa-sha2-nistp256').publicKey,
        certType: expected.certType,
        keyId: expected.keyId,
        principals: expected.principals,
        serial: expected.serial,
        now: NOW,
        ttlSeconds: 3600,
        backdateSeconds: 120,
        criticalOptions: expected.criticalOptions,
        extensions: expected.extensions,
      },
      testKey('ssh-rsa'),
    );
    const parsed = parseCertificate(cert.blob);
    const fields = Object.keys(expected) as (keyof CertificateIdentity)[];
    // At run time too: every field a parsed certificate has beyond its encoding is covered here.
    const encodingFields = [
      'type',
      'nonce',
      'publicKey',
      'signatureKey',
      'signature',
      'signedData',
      'blob',
    ];
    const identityFields = Object.keys(parsed).filter(
      (k) => !encodingFields.includes(k) && k !== 'comment' && k !== 'parsedSignature',
    );
    assert.deepEqual([...identityFields].sort(), [...fields].sort());
    for (const field of fields) {
      assert.deepEqual(
        field === 'criticalOptions' || field === 'extensions'
          ? { ...parsed[field] }
          : parsed[field],
        expected[field],
        field,
      );
    }
    // And the text form carries the same blob.
    const fromText = parseCertificateText(encodeCertificateText(parsed, 'c'));
    assert.ok(fromText.blob.equals(cert.blob));
    assert.equal(fromText.comment, 'c');
    assert.ok(parsed.publicKey.blob.equals(testKey('ecdsa-sha2-nistp256').publicKey.blob));
    assert.ok(parsed.signatureKey.blob.equals(testKey('ssh-rsa').publicKey.blob));
    assert.equal(parseSignature(parsed.signature).algorithm, 'rsa-sha2-512');
    assert.ok(cert.blob.subarray(0, parsed.signedData.length).equals(parsed.signedData));
    assert.equal(parsed.nonce.length, 32);
  });

  it('serialises to JSON as its identity, never its body', () => {
    const cert = signCertificate(baseRequest(), testKey('ssh-ed25519'));
    const json = JSON.stringify({ cert });
    assert.ok(!json.includes(cert.blob.toString('base64').slice(20, 60)));
    const back = JSON.parse(json) as {
      cert: { keyId: string; serial: string; publicKey: { fingerprint: string } };
    };
    assert.equal(back.cert.keyId, 'alice@example.com:req1');
    assert.equal(back.cert.serial, '42');
    assert.equal(back.cert.publicKey.fingerprint, fingerprint(cert.publicKey));
  });

  it('applies request defaults: validity from the TTL, 60 s backdate, random 63-bit serial, nothing granted', () => {
    const before = BigInt(Math.floor(Date.now() / 1000));
    const cert = signCertificate(
      {
        publicKey: testKey('ssh-ed25519', 1).publicKey,
        certType: 'user',
        keyId: 'k',
        principals: ['p'],
        ttlSeconds: 300,
      },
      testKey('ssh-ed25519'),
    );
    const after = BigInt(Math.floor(Date.now() / 1000));
    assert.ok(cert.validAfter >= before - 60n && cert.validAfter <= after - 60n);
    assert.equal(cert.validBefore - cert.validAfter, 360n);
    assert.ok(cert.serial > 0n && cert.serial < 2n ** 63n);
    assert.deepEqual({ ...cert.extensions }, {});
    assert.deepEqual({ ...cert.criticalOptions }, {});
    const other = signCertificate(baseRequest({ serial: undefined }), testKey('ssh-ed25519'));
    assert.notEqual(other.serial, cert.serial);
    const early = signCertificate(baseRequest({ now: new Date(10_000) }), testKey('ssh-ed25519'));
    assert.equal(early.validAfter, 0n, 'backdate never goes below 0');
  });

  it('encodes options in lexical order, as PROTOCOL.certkeys requires', () => {
    const cert = signCertificate(
      baseRequest({ extensions: { 'permit-pty': '', 'permit-X11-forwarding': '', 'a@b': '' } }),
      testKey('ssh-ed25519'),
    );
    assert.deepEqual(Object.keys(cert.extensions), ['a@b', 'permit-X11-forwarding', 'permit-pty']);
  });

  it('refuses invalid requests with invalid-request', () => {
    const ca = testKey('ssh-ed25519');
    assertCode(
      () => signCertificate(baseRequest({ principals: [] }), ca),
      'invalid-request',
      /principals/,
    );
    assertCode(() => signCertificate(baseRequest({ principals: [''] }), ca), 'invalid-request');
    assertCode(() => signCertificate(baseRequest({ keyId: '' }), ca), 'invalid-request', /keyId/);
    assertCode(() => signCertificate(baseRequest({ ttlSeconds: 0 }), ca), 'invalid-request');
    assertCode(() => signCertificate(baseRequest({ ttlSeconds: 1.5 }), ca), 'invalid-request');
    assertCode(() => signCertificate(baseRequest({ serial: -1n }), ca), 'invalid-request');
    assertCode(
      () => signCertificate(baseRequest({ extensions: { '': '' } }), ca),
      'invalid-request',
    );
  });

  it('parses only certificates of supported types', () => {
    const cert = signCertificate(baseRequest(), testKey('ssh-ed25519'));
    assertCode(
      () => parseCertificateText(encodePublicKeyText(testKey('ssh-ed25519').publicKey)),
      'malformed',
    );
    const dss = Buffer.concat([sshString('ssh-dss-cert-v01@openssh.com'), cert.blob.subarray(36)]);
    assertCode(() => parseCertificate(dss), 'unsupported-key', /DSA/);
    const text = encodeCertificateText(cert).replace(
      'ssh-ed25519-cert',
      'ecdsa-sha2-nistp256-cert',
    );
    assertCode(() => parseCertificateText(text), 'malformed');
    assert.equal(isCertificateAlgorithm('rsa-sha2-512-cert-v01@openssh.com'), true);
    assert.equal(isCertificateAlgorithm('ssh-ed25519'), false);
    assert.equal(isCertificateAlgorithm('ssh-dss-cert-v01@openssh.com'), false);
  });
});
