import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  SshCertError,
  createKrl,
  encodeCertificateText,
  encodePrivateKey,
  encodePublicKeyText,
  fingerprint,
  generatePrivateKey,
  parseCertificateText,
  parseKrl,
  parsePrivateKey,
  parsePublicKeyText,
  parseSignature,
  signCertificate,
  verifyCertificate,
  type Certificate,
  type KeyType,
  type PrivateKey,
  type PublicKey,
} from '@neetodeploy/sshcert';
import { makeTempDir, sshKeygen } from '../support/openssh.js';
import { KEYGEN_ARGS, KEY_TYPES } from './helpers.js';
import { keygenLines, renderKeygenL, type CertFields } from './keygen-format.js';

function fieldsOf(cert: Certificate): CertFields {
  return {
    type: cert.type,
    certType: cert.certType,
    keyType: cert.publicKey.type,
    keyFingerprint: fingerprint(cert.publicKey),
    caType: cert.signatureKey.type,
    caFingerprint: fingerprint(cert.signatureKey),
    signatureAlgorithm: parseSignature(cert.signature).algorithm,
    keyId: cert.keyId,
    serial: cert.serial,
    validAfter: cert.validAfter,
    validBefore: cert.validBefore,
    principals: cert.principals,
    criticalOptions: cert.criticalOptions,
    extensions: cert.extensions,
  };
}

interface KeyFiles {
  readonly type: KeyType;
  readonly file: string;
  readonly privateKey: PrivateKey;
  readonly publicKey: PublicKey;
}

describe('sshcert interop with ssh-keygen (OpenSSH 9.2)', function () {
  this.timeout(60000);
  let tmp: { dir: string; remove: () => void };
  const cas = new Map<KeyType, KeyFiles>();
  const subjects = new Map<KeyType, KeyFiles>();

  before(async () => {
    tmp = makeTempDir('sshcert-interop-');
    await Promise.all(
      KEY_TYPES.flatMap((type) =>
        (['ca', 'subject'] as const).map(async (role) => {
          const file = path.join(tmp.dir, `${role}-${type}`);
          await sshKeygen([
            '-q',
            ...KEYGEN_ARGS[type],
            '-N',
            '',
            '-C',
            `${role} ${type}`,
            '-f',
            file,
          ]);
          const privateKey = parsePrivateKey(fs.readFileSync(file, 'utf8'));
          const publicKey = parsePublicKeyText(fs.readFileSync(`${file}.pub`, 'utf8'));
          (role === 'ca' ? cas : subjects).set(type, { type, file, privateKey, publicKey });
        }),
      ),
    );
  });
  after(() => tmp.remove());

  describe('keys', () => {
    for (const type of KEY_TYPES) {
      it(`${type}: loads ssh-keygen's private key and prints the same fingerprint`, async () => {
        const k = cas.get(type)!;
        assert.ok(k.privateKey.publicKey.blob.equals(k.publicKey.blob));
        assert.equal(k.privateKey.comment, `ca ${type}`);
        assert.equal(k.publicKey.comment, `ca ${type}`);
        const { stdout } = await sshKeygen(['-l', '-E', 'sha256', '-f', `${k.file}.pub`]);
        assert.equal(stdout.split(' ')[1], fingerprint(k.publicKey));
        assert.equal(stdout.split(' ')[0], String(k.publicKey.bits));
      });

      it(`${type}: ssh-keygen -y reads the private key we write`, async () => {
        const k = cas.get(type)!;
        const file = path.join(tmp.dir, `ours-${type}`);
        fs.writeFileSync(file, encodePrivateKey(k.privateKey, 'written by sshcert'), {
          mode: 0o600,
        });
        const { stdout } = await sshKeygen(['-y', '-f', file]);
        assert.equal(stdout.trim(), encodePublicKeyText(k.publicKey, 'written by sshcert'));
      });
    }

    it('refuses an encrypted key from ssh-keygen with encrypted-key', async () => {
      const file = path.join(tmp.dir, 'encrypted');
      await sshKeygen(['-q', '-t', 'ed25519', '-N', 'secret phrase', '-f', file]);
      assert.throws(
        () => parsePrivateKey(fs.readFileSync(file, 'utf8')),
        (e: unknown) =>
          e instanceof SshCertError && e.code === 'encrypted-key' && /passphrase/.test(e.message),
      );
    });

    it('refuses RSA-1024 and DSA keys from ssh-keygen', async () => {
      const rsa = path.join(tmp.dir, 'rsa1024');
      await sshKeygen(['-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', rsa]);
      assert.throws(
        () => parsePublicKeyText(fs.readFileSync(`${rsa}.pub`, 'utf8')),
        (e: unknown) => e instanceof SshCertError && e.code === 'weak-key',
      );
      assert.throws(
        () => parsePrivateKey(fs.readFileSync(rsa, 'utf8')),
        (e: unknown) => e instanceof SshCertError && e.code === 'weak-key',
      );
      const dsa = path.join(tmp.dir, 'dsa');
      const made = await sshKeygen(['-q', '-t', 'dsa', '-N', '', '-f', dsa], { allowFail: true });
      if (made.code === 0) {
        assert.throws(
          () => parsePublicKeyText(fs.readFileSync(`${dsa}.pub`, 'utf8')),
          (e: unknown) =>
            e instanceof SshCertError && e.code === 'unsupported-key' && /DSA/.test(e.message),
        );
      }
    });
  });

  describe('certificates made by ssh-keygen -s parse to what ssh-keygen -L prints', () => {
    KEY_TYPES.forEach((caType, i) => {
      KEY_TYPES.forEach((subjectType, j) => {
        const host = (i + j) % 4 === 3;
        it(`${subjectType} ${host ? 'host' : 'user'} certificate signed by a ${caType} CA`, async () => {
          const ca = cas.get(caType)!;
          const subject = subjects.get(subjectType)!;
          const pubFile = path.join(tmp.dir, `keygen-${i}-${j}.pub`);
          fs.copyFileSync(`${subject.file}.pub`, pubFile);
          const serial = i === 4 ? 0xfffffffffffffff0n + BigInt(j) : BigInt(i * 1000 + j) * 7919n;
          const args = ['-q', '-s', ca.file, '-I', `id ${i}/${j} "quoted"`, '-z', String(serial)];
          args.push('-n', host ? `h${j}.example.com,*.neetodeploy` : `app${j},other-${i}`);
          args.push(
            '-V',
            j % 2
              ? '20300101000000:20300102120000'
              : i % 2
                ? 'always:20310101000000'
                : 'always:forever',
          );
          if (host) args.push('-h');
          else if ((i + j) % 3 === 0) {
            args.push(
              '-O',
              'clear',
              '-O',
              'permit-pty',
              '-O',
              'extension:custom@example.com=some value',
            );
            args.push(
              '-O',
              'force-command=/usr/bin/env echo hi',
              '-O',
              'source-address=10.0.0.0/8,192.0.2.1,2001:db8::/32',
            );
          } else if ((i + j) % 3 === 1) {
            args.push(
              '-O',
              'no-port-forwarding',
              '-O',
              'critical:custom@example.com=crit',
              '-O',
              'extension:flag@x',
            );
          }
          args.push(pubFile);
          await sshKeygen(args);
          const certFile = pubFile.replace(/\.pub$/, '-cert.pub');
          const cert = parseCertificateText(fs.readFileSync(certFile, 'utf8'));
          const { stdout } = await sshKeygen(['-L', '-f', certFile]);
          assert.deepEqual(renderKeygenL(fieldsOf(cert)), keygenLines(stdout));
          assert.equal(cert.keyId, `id ${i}/${j} "quoted"`);
          assert.equal(cert.serial, serial);
          assert.equal(cert.certType, host ? 'host' : 'user');
          assert.ok(cert.publicKey.blob.equals(subject.publicKey.blob));
          assert.equal(
            parseSignature(cert.signature).algorithm,
            caType === 'ssh-rsa' ? 'rsa-sha2-512' : caType,
          );
          const at = new Date(Date.UTC(2030, 0, 1, 6));
          const r = verifyCertificate(cert, {
            trustedCAs: [ca.publicKey],
            now: at,
            certType: host ? 'host' : 'user',
            knownCriticalOptions: ['force-command', 'source-address', 'custom@example.com'],
            sourceAddress: '10.9.8.7',
          });
          assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.message}`);
          // The same certificate re-encodes to the same text.
          assert.equal(encodeCertificateText(cert), fs.readFileSync(certFile, 'utf8').trim());
        });
      });
    });
  });

  describe('certificates made by sshcert read back by ssh-keygen -L with the intended fields', () => {
    KEY_TYPES.forEach((caType, i) => {
      KEY_TYPES.forEach((subjectType, j) => {
        const host = (i + j) % 4 === 1;
        it(`${subjectType} ${host ? 'host' : 'user'} certificate signed by a ${caType} CA`, async () => {
          const ca = cas.get(caType)!;
          const subject = subjects.get(subjectType)!;
          const now = new Date(Date.UTC(2031, 5, 1, 12, 0, 0));
          const nowS = BigInt(now.getTime() / 1000);
          const intended: {
            keyId: string;
            principals: string[];
            serial: bigint;
            criticalOptions: Record<string, string>;
            extensions: Record<string, string>;
          } = {
            keyId: `alice@example.com:req-${i}-${j}`,
            principals: host ? ['bastion.example.com', '*.neetodeploy'] : [`app${j}`, 'demo'],
            serial: BigInt(i * 5 + j + 1) << 40n,
            criticalOptions: host
              ? {}
              : j % 2
                ? { 'source-address': '127.0.0.1/32,::1', 'force-command': 'internal-sftp' }
                : {},
            extensions: host
              ? {}
              : {
                  'permit-port-forwarding': '',
                  'permit-pty': '',
                  ...(i % 2 ? { 'x@example.com': 'v=1' } : {}),
                },
          };
          const cert = signCertificate(
            {
              publicKey: subject.publicKey,
              certType: host ? 'host' : 'user',
              ttlSeconds: 600,
              now,
              ...intended,
            },
            ca.privateKey,
          );
          const file = path.join(tmp.dir, `ours-${i}-${j}-cert.pub`);
          fs.writeFileSync(file, encodeCertificateText(cert, 'made by sshcert') + '\n');
          const { stdout } = await sshKeygen(['-L', '-f', file]);
          const expected = renderKeygenL({
            type: `${subjectType}-cert-v01@openssh.com`,
            certType: host ? 'host' : 'user',
            keyType: subjectType,
            keyFingerprint: fingerprint(subject.publicKey),
            caType,
            caFingerprint: fingerprint(ca.publicKey),
            signatureAlgorithm: caType === 'ssh-rsa' ? 'rsa-sha2-512' : caType,
            keyId: intended.keyId,
            serial: intended.serial,
            validAfter: nowS - 60n,
            validBefore: nowS + 600n,
            principals: intended.principals,
            criticalOptions: Object.fromEntries(Object.entries(intended.criticalOptions).sort()),
            extensions: Object.fromEntries(
              Object.entries(intended.extensions).sort(([a], [b]) => (a < b ? -1 : 1)),
            ),
          });
          assert.deepEqual(keygenLines(stdout), expected);
        });
      });
    });
  });

  describe('KRLs agree with ssh-keygen -Q', () => {
    let certs: { name: string; file: string; cert: Certificate }[] = [];
    // Keys revoked by hash only (their certificates have serials nobody revokes).
    const extraKeys: Record<string, PrivateKey> = {
      'sha256-key': generatePrivateKey(),
      'sha1-key': generatePrivateKey(),
    };
    const caType: KeyType = 'ssh-ed25519';

    before(() => {
      const ca = cas.get(caType)!;
      const other = cas.get('ecdsa-sha2-nistp256')!;
      certs = [];
      const specs: [string, bigint, PrivateKey, KeyType][] = [
        ['plain', 1n, ca.privateKey, 'ssh-ed25519'],
        ['listed', 5n, ca.privateKey, 'ssh-ed25519'],
        ['in-range', 15n, ca.privateKey, 'ecdsa-sha2-nistp256'],
        ['range-end', 20n, ca.privateKey, 'ssh-rsa'],
        ['after-range', 21n, ca.privateKey, 'ssh-ed25519'],
        ['bitmap-odd', 151n, ca.privateKey, 'ssh-ed25519'],
        ['bitmap-even', 152n, ca.privateKey, 'ssh-ed25519'],
        ['bad-id', 1000n, ca.privateKey, 'ecdsa-sha2-nistp384'],
        ['zero-serial', 0n, ca.privateKey, 'ssh-ed25519'],
        ['other-ca-listed', 5n, other.privateKey, 'ssh-ed25519'],
        ['other-ca-bad-id', 7n, other.privateKey, 'ssh-ed25519'],
        ['revoked-key', 3000n, ca.privateKey, 'ecdsa-sha2-nistp521'],
        ['sha256-key', 4000n, ca.privateKey, 'ssh-ed25519'],
        ['sha1-key', 4001n, ca.privateKey, 'ssh-ed25519'],
      ];
      for (const [name, serial, signer, subjectType] of specs) {
        const cert = signCertificate(
          {
            publicKey: extraKeys[name]?.publicKey ?? subjects.get(subjectType)!.publicKey,
            certType: 'user',
            keyId: name === 'other-ca-bad-id' ? 'bad-id' : name,
            principals: ['p'],
            ttlSeconds: 3600,
            serial,
          },
          signer,
        );
        const file = path.join(tmp.dir, `krl-${name}-cert.pub`);
        fs.writeFileSync(file, encodeCertificateText(cert) + '\n');
        certs.push({ name, file, cert });
      }
    });

    async function keygenRevoked(krlFile: string, certFile: string): Promise<boolean> {
      const r = await sshKeygen(['-Q', '-f', krlFile, certFile], { allowFail: true });
      if (/REVOKED/.test(r.stdout)) return true;
      assert.match(r.stdout, /: ok/, `ssh-keygen -Q failed: ${r.stderr}`);
      return false;
    }

    it('parses a KRL made by ssh-keygen -k (lists, ranges, bitmaps, ids, keys) and agrees on every certificate', async () => {
      const ca = cas.get(caType)!;
      const spec = path.join(tmp.dir, 'krl.spec');
      const odd = Array.from({ length: 50 }, (_, k) => `serial: ${101 + 2 * k}`);
      fs.writeFileSync(
        spec,
        [
          'serial: 5',
          'serial: 10-20',
          ...odd,
          'id: bad-id',
          `hash: ${fingerprint(extraKeys['sha256-key']!.publicKey)}`,
          `sha1: ${encodePublicKeyText(extraKeys['sha1-key']!.publicKey)}`,
          `key: ${fs.readFileSync(`${subjects.get('ecdsa-sha2-nistp521')!.file}.pub`, 'utf8').trim()}`,
          '',
        ].join('\n'),
      );
      const krlFile = path.join(tmp.dir, 'keygen.krl');
      await sshKeygen(['-q', '-k', '-f', krlFile, '-s', `${ca.file}.pub`, '-z', '3', spec]);
      const krl = parseKrl(fs.readFileSync(krlFile));
      assert.equal(krl.version, 3n);
      assert.equal(krl.revokedKeys.length, 1);
      assert.equal(krl.revokedSha256.length, 1);
      assert.equal(krl.revokedSha1.length, 1);
      const expected: Record<string, boolean> = {};
      const ours: Record<string, boolean> = {};
      for (const { name, file, cert } of certs) {
        expected[name] = await keygenRevoked(krlFile, file);
        ours[name] = krl.isRevoked(cert);
      }
      assert.deepEqual(ours, expected);
      // The cases exercise both answers.
      assert.ok(Object.values(expected).includes(true) && Object.values(expected).includes(false));
      assert.equal(expected['bitmap-odd'], true);
      assert.equal(expected['bitmap-even'], false);
      assert.equal(expected['sha256-key'], true);
      assert.equal(expected['sha1-key'], true);
    });

    it('ssh-keygen -Q reads the KRL createKrl writes and agrees on every certificate', async () => {
      const ca = cas.get(caType)!;
      const blob = createKrl({
        version: 9n,
        comment: 'made by sshcert',
        certSections: [
          {
            caKey: ca.publicKey,
            serialRanges: [
              [5n, 5n],
              [10n, 20n],
              ...Array.from(
                { length: 50 },
                (_, k) => [BigInt(101 + 2 * k), BigInt(101 + 2 * k)] as const,
              ),
            ],
            keyIds: [],
          },
          { serialRanges: [], keyIds: ['bad-id'] },
        ],
        revokedSha256: [
          subjects.get('ecdsa-sha2-nistp521')!.publicKey,
          extraKeys['sha256-key']!.publicKey,
        ],
      });
      const krlFile = path.join(tmp.dir, 'ours.krl');
      fs.writeFileSync(krlFile, blob);
      const krl = parseKrl(blob);
      const expected: Record<string, boolean> = {};
      const ours: Record<string, boolean> = {};
      for (const { name, file, cert } of certs) {
        expected[name] = await keygenRevoked(krlFile, file);
        ours[name] = krl.isRevoked(cert);
      }
      assert.deepEqual(ours, expected);
      assert.equal(expected['other-ca-bad-id'], true, 'key id section applies to any CA');
      assert.equal(expected['other-ca-listed'], false, 'serials are per CA');
      assert.equal(expected['revoked-key'], true, 'SHA256 of the certified key');
      assert.equal(expected['zero-serial'], false);
      assert.equal(expected['sha256-key'], true);
    });
  });
});
