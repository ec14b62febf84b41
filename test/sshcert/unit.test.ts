import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  SshCertError,
  createKrl,
  encodeCertificateText,
  encodePrivateKey,
  encodePublicKeyText,
  fingerprint,
  generatePrivateKey,
  isCertificateAlgorithm,
  matchSourceAddress,
  parseCertificate,
  parseCertificateText,
  parseKrl,
  parsePrivateKey,
  parsePublicKey,
  parsePublicKeyText,
  parseSignature,
  publicKeyFromKeyObject,
  signCertificate,
  signData,
  verifyCertificate,
  verifySignature,
  verifyUserCertificate,
  type Certificate,
  type CertificateIdentity,
  type CertificateRequest,
  type SignatureAlgorithm,
  type VerifyFailureReason,
  type VerifyOptions,
} from '@neetodeploy/sshcert';
import { KEY_TYPES, sshString, testKey, userauthSignedData } from './helpers.js';

function assertCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SshCertError, `expected SshCertError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_S = BigInt(NOW.getTime() / 1000);

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
});

describe('sshcert: private keys', () => {
  for (const type of KEY_TYPES) {
    it(`${type}: openssh-key-v1 round trip keeps the key and comment`, () => {
      const key = testKey(type);
      const text = encodePrivateKey(key, 'round trip');
      assert.match(text, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      const back = parsePrivateKey(text);
      assert.equal(back.type, type);
      assert.equal(back.comment, 'round trip');
      assert.ok(back.publicKey.blob.equals(key.publicKey.blob));
      const data = randomBytes(32);
      assert.ok(verifySignature(key.publicKey, data, signData(back, data)));
    });
  }

  it('loads PKCS#8 PEM keys', () => {
    const pair = generateKeyPairSync('ed25519');
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const key = parsePrivateKey(pem);
    assert.equal(key.type, 'ssh-ed25519');
    assert.ok(key.publicKey.blob.equals(publicKeyFromKeyObject(pair.publicKey).blob));
  });

  it('refuses encrypted PEM and garbage clearly', () => {
    const pair = generateKeyPairSync('ed25519');
    const pem = pair.privateKey.export({
      format: 'pem',
      type: 'pkcs8',
      cipher: 'aes-128-cbc',
      passphrase: 'x',
    });
    assertCode(() => parsePrivateKey(pem), 'encrypted-key', /encrypted/);
    assertCode(() => parsePrivateKey('hello'), 'malformed');
    assertCode(
      () =>
        parsePrivateKey(
          '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
        ),
      'malformed',
    );
  });

  it('never shows private material when logged', () => {
    const key = generatePrivateKey();
    assert.equal(inspect(key), '[ssh-ed25519 private key]');
    assert.ok(!inspect({ nested: key }).includes('BEGIN'));
    assert.equal(JSON.stringify({ key }), '{"key":"[ssh-ed25519 private key]"}');
  });

  it('generates RSA keys of the requested size and refuses small ones', () => {
    assertCode(() => generatePrivateKey('ssh-rsa', { bits: 1024 }), 'invalid-request');
  });
});

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

function baseRequest(overrides: Partial<CertificateRequest> = {}): CertificateRequest {
  return {
    publicKey: testKey('ssh-ed25519', 1).publicKey,
    certType: 'user',
    keyId: 'alice@example.com:req1',
    principals: ['demo'],
    ttlSeconds: 300,
    now: NOW,
    serial: 42n,
    ...overrides,
  };
}

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

describe('sshcert: source-address', () => {
  const cases: [string, string, boolean][] = [
    ['192.0.2.0/24', '192.0.2.200', true],
    ['192.0.2.0/24', '192.0.3.1', false],
    ['10.1.2.3', '10.1.2.3', true],
    ['10.1.2.3', '10.1.2.4', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['10.0.0.0/8,2001:db8::/32', '2001:db8:1::5', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::1', '::1', true],
    ['::1', '127.0.0.1', false],
    ['192.0.2.0/24', '::ffff:192.0.2.7', true],
    ['::ffff:192.0.2.0/120', '192.0.2.7', true],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['10.0.0.0/8', 'not-an-ip', false],
  ];
  for (const [list, addr, expected] of cases) {
    it(`${addr} ${expected ? 'matches' : 'does not match'} ${list}`, () => {
      assert.equal(matchSourceAddress(list, addr), expected);
    });
  }
  it('refuses invalid lists as OpenSSH does (host bits, wildcards, bad lengths, empty entries)', () => {
    for (const bad of [
      '10.0.0.1/8',
      '10.0.0.*',
      '10.0.0.0/33',
      '::/129',
      '',
      '10.0.0.0/8,',
      '!10.0.0.1',
      'host.example',
    ]) {
      assertCode(() => matchSourceAddress(bad, '10.0.0.1'), 'malformed');
    }
  });
});

describe('sshcert: KRL', () => {
  const ca = testKey('ssh-ed25519');
  const other = testKey('ssh-ed25519', 5);
  const certWith = (serial: bigint, keyId = 'k', signer = ca): Certificate =>
    signCertificate(baseRequest({ serial, keyId }), signer);

  it('round-trips and answers like ssh_krl_check_key', () => {
    const revokedKey = testKey('ecdsa-sha2-nistp256', 7).publicKey;
    const hashedKey = testKey('ssh-ed25519', 8).publicKey;
    const blob = createKrl({
      version: 7n,
      comment: 'test krl',
      now: NOW,
      certSections: [
        {
          caKey: ca.publicKey,
          serialRanges: [
            [5n, 5n],
            [10n, 20n],
            [21n, 22n],
          ],
          keyIds: ['bad-id'],
        },
        { serialRanges: [], keyIds: ['everywhere'] },
      ],
      revokedKeys: [revokedKey],
      revokedSha256: [hashedKey],
    });
    const krl = parseKrl(blob);
    assert.equal(krl.version, 7n);
    assert.equal(krl.generatedDate, NOW_S);
    assert.equal(krl.comment, 'test krl');
    assert.deepEqual(krl.sections[0]!.serialRanges, [
      [5n, 5n],
      [10n, 22n],
    ]);
    assert.deepEqual(krl.sections[0]!.keyIds, ['bad-id']);
    assert.equal(krl.sections[1]!.caKey, undefined);
    assert.equal(krl.isRevoked(certWith(5n)), true);
    assert.equal(krl.isRevoked(certWith(6n)), false);
    assert.equal(krl.isRevoked(certWith(10n)), true);
    assert.equal(krl.isRevoked(certWith(22n)), true);
    assert.equal(krl.isRevoked(certWith(23n)), false);
    assert.equal(krl.isRevoked(certWith(5n, 'k', other)), false, 'serials are per CA');
    assert.equal(krl.isRevoked(certWith(1n, 'bad-id')), true);
    assert.equal(krl.isRevoked(certWith(1n, 'bad-id', other)), false);
    assert.equal(krl.isRevoked(certWith(1n, 'everywhere', other)), true);
    assert.equal(krl.isKeyRevoked(revokedKey), true);
    assert.equal(krl.isKeyRevoked(hashedKey), true);
    assert.equal(krl.isKeyRevoked(testKey('ssh-ed25519', 9).publicKey), false);
    const certOfRevokedKey = signCertificate(
      baseRequest({ publicKey: hashedKey, serial: 99n }),
      ca,
    );
    assert.equal(krl.isRevoked(certOfRevokedKey), true, 'the certified key itself is checked');
  });

  it('never revokes serial 0 by serial, and refuses to write it', () => {
    assertCode(
      () =>
        createKrl({
          certSections: [{ caKey: ca.publicKey, serialRanges: [[0n, 3n]], keyIds: [] }],
        }),
      'invalid-request',
    );
    const krl = parseKrl(
      createKrl({ certSections: [{ caKey: ca.publicKey, serialRanges: [[1n, 3n]], keyIds: [] }] }),
    );
    assert.equal(krl.isRevoked(certWith(0n)), false);
  });

  it('tolerates a trailing signature section and refuses sections after it', () => {
    const base = createKrl({
      certSections: [{ caKey: ca.publicKey, serialRanges: [[9n, 9n]], keyIds: [] }],
    });
    const sig = signData(ca, base);
    const signed = Buffer.concat([
      base,
      Buffer.from([4]),
      sshString(ca.publicKey.blob),
      sshString(sig),
    ]);
    assert.equal(parseKrl(signed).isRevoked(certWith(9n)), true);
    const after = Buffer.concat([
      signed,
      Buffer.from([2]),
      sshString(sshString(ca.publicKey.blob)),
    ]);
    assertCode(() => parseKrl(after), 'malformed');
  });

  it('reads serial bitmaps and ignores non-critical extensions, refuses critical ones', () => {
    const head = createKrl({ now: NOW });
    const u64 = (v: bigint): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(v);
      return b;
    };
    // bits 0, 1 and 9 from offset 100 → serials 100, 101, 109
    const bitmap = Buffer.concat([u64(100n), sshString(Buffer.from([0x02, 0x03]))]);
    const ext = (critical: boolean): Buffer =>
      Buffer.concat([
        Buffer.from([255]),
        sshString(
          Buffer.concat([sshString('x@y'), Buffer.from([critical ? 1 : 0]), sshString('')]),
        ),
      ]);
    const section = Buffer.concat([
      Buffer.from([1]),
      sshString(
        Buffer.concat([
          sshString(ca.publicKey.blob),
          sshString(''),
          Buffer.from([0x22]),
          sshString(bitmap),
        ]),
      ),
    ]);
    const krl = parseKrl(Buffer.concat([head, ext(false), section]));
    assert.deepEqual(krl.sections[0]!.serialRanges, [
      [100n, 101n],
      [109n, 109n],
    ]);
    assertCode(() => parseKrl(Buffer.concat([head, ext(true)])), 'malformed', /critical/);
    assertCode(() => parseKrl(Buffer.from('not a krl')), 'malformed');
  });
});
