/**
 * `sshcert/src/krl.ts`: key revocation lists (OpenSSH KRL format): writing, reading and checking
 * keys and certificates.
 */
import assert from 'node:assert/strict';
import {
  createKrl,
  parseKrl,
  signCertificate,
  signData,
  type Certificate,
} from '@neetodeploy/sshcert';
import { sshString, testKey, assertCode, NOW, NOW_S, baseRequest } from './helpers.js';

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
