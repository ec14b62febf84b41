/**
 * ssh2's own key generator (patches/ssh2: lib/keygen.js). Our code makes keys with node:crypto,
 * but ssh2's test suite, which CI runs, uses this one: it failed about one run in 40 with
 * "Malformed OpenSSH private key", for the one ed25519 key in 256 whose public key starts with a
 * zero byte (stripped with the BIT STRING's unused-bits byte).
 */
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';

describe('ssh2 patch: generateKeyPairSync("ed25519")', function () {
  it('every key parses back, those whose public key starts with a zero byte too', function () {
    this.timeout(60_000);
    let leadingZero = 0;
    // (255/256)^3000 < 1e-5: some key of these starts with a zero byte.
    for (let i = 0; i < 3000; i++) {
      const { private: priv, public: pub } = ssh2.utils.generateKeyPairSync('ed25519');
      const parsed = ssh2.utils.parseKey(priv);
      if (parsed instanceof Error) assert.fail(`key ${i}: ${parsed.message}\n${pub}`);
      const parsedKey = Array.isArray(parsed) ? parsed[0] : parsed;
      const raw = parsedKey!.getPublicSSH().subarray(-32);
      assert.equal(raw.length, 32);
      assert.equal(
        Buffer.from(pub.split(' ')[1] ?? '', 'base64')
          .subarray(-32)
          .equals(raw),
        true,
      );
      if (raw[0] === 0) leadingZero++;
    }
    assert.ok(leadingZero > 0, 'no key with a leading zero byte was generated');
  });
});
