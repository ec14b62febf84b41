/**
 * `sshcert/src/private-key.ts`: private keys: openssh-key-v1 and PKCS#8 loading, generation, and
 * never showing key material.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  encodePrivateKey,
  generatePrivateKey,
  parsePrivateKey,
  publicKeyFromKeyObject,
  signData,
  verifySignature,
} from '@neetodeploy/sshcert';
import { KEY_TYPES, testKey, assertCode } from './helpers.js';

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
