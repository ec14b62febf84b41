/**
 * patches/ssh2+1.17.0.patch, client side, with cli/src/ssh `certificateKey`: an ssh2 Client
 * presents an OpenSSH user certificate to a real sshd and to an ssh2 Server that verifies it.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { SshKeyError, certificateKey, encodeOpenSshPrivateKey } from '../../cli/src/ssh/index.js';
import {
  keygen,
  makeTempDir,
  parseCert,
  parsePublicKeyBlob,
  removeDir,
  signKey,
  verifySshSignature,
} from './support.js';
import { startSshd, type SshdHandle } from '../support/openssh.js';

type UserKeyType = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa';

interface UserKey {
  readonly keyObject: KeyObject;
  readonly publicLine: string;
  /** Signed by the trusted user CA, principal = the sshd login user. */
  certLine?: string;
  /** Signed by another CA. */
  wrongCertLine?: string;
}

function generate(type: UserKeyType): KeyObject {
  switch (type) {
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }
}

function publicLineOf(keyObject: KeyObject): string {
  const parsed = ssh2.utils.parseKey(encodeOpenSshPrivateKey(keyObject)) as ParsedKey;
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}

/** OpenSSH's SHA256 fingerprint of a public key line, as sshd logs it. */
function fingerprintOf(publicLine: string): string {
  const blob = Buffer.from(publicLine.split(' ')[1]!, 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

interface ExecResult {
  readonly stdout: string;
  readonly code: number | undefined;
}

/** Connects with `key` via authHandler and runs `command`. Rejects if authentication fails. */
function execWithKey(
  port: number,
  username: string,
  key: ParsedKey,
  command: string,
): Promise<ExecResult> {
  const client = new ssh2.Client();
  // @types/ssh2 types authHandler entries as bare AuthMethod: name the publickey shape.
  const auth: PublicKeyAuthMethod = { type: 'publickey', username, key };
  return new Promise<ExecResult>((resolve, reject) => {
    client.once('error', reject);
    client.once('ready', () => {
      client.exec(command, (err, stream) => {
        if (err) {
          reject(err);
          return;
        }
        let stdout = '';
        let code: number | undefined;
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.resume();
        stream.on('exit', (c: number | null) => (code = c ?? undefined));
        stream.on('close', () => resolve({ stdout, code }));
      });
    });
    client.connect({
      host: '127.0.0.1',
      port,
      username,
      readyTimeout: 10_000,
      authHandler: [auth],
    });
  }).finally(() => client.end());
}

describe('ssh2 patch: user certificates (client side) via certificateKey', function () {
  let dir: string | undefined;
  let sshd: SshdHandle | undefined;
  let caPublicBlob: Buffer;
  const keys = new Map<UserKeyType, UserKey>();
  const TYPES: readonly UserKeyType[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa'];

  before(async function () {
    dir = await makeTempDir('ssh2-usercert-');
    const ca = await keygen(dir, 'user_ca', 'ed25519');
    const wrongCa = await keygen(dir, 'wrong_ca', 'ed25519');
    caPublicBlob = Buffer.from((await readFile(`${ca}.pub`, 'utf8')).split(' ')[1]!, 'base64');
    const started = startSshd({
      trustedUserCAKeys: [(await readFile(`${ca}.pub`, 'utf8')).trim()],
    });
    await Promise.all(
      TYPES.map(async (type) => {
        const keyObject = generate(type);
        const key: UserKey = { keyObject, publicLine: publicLineOf(keyObject) };
        const pubFile = path.join(dir!, `user_${type}.pub`);
        const wrongFile = path.join(dir!, `wrong_${type}.pub`);
        await writeFile(pubFile, `${key.publicLine}\n`);
        await writeFile(wrongFile, `${key.publicLine}\n`);
        key.certLine = await signKey(ca, pubFile, { principals: ['root'], validity: '-1m:+5m' });
        key.wrongCertLine = await signKey(wrongCa, wrongFile, {
          principals: ['root'],
          validity: '-1m:+5m',
        });
        keys.set(type, key);
      }),
    );
    sshd = await started;
  });

  after(async function () {
    await sshd?.stop();
    await removeDir(dir);
  });

  function userKey(type: UserKeyType): Required<UserKey> {
    const k = keys.get(type);
    assert.ok(k?.certLine !== undefined && k.wrongCertLine !== undefined);
    return k as Required<UserKey>;
  }

  for (const type of TYPES) {
    it(`a real sshd accepts an ${type} user certificate`, async function () {
      const k = userKey(type);
      const key = certificateKey(k.keyObject, k.certLine);
      const r = await execWithKey(sshd!.port, 'root', key, 'echo cert-ok');
      assert.deepEqual(r, { stdout: 'cert-ok\n', code: 0 });
      const label = {
        ed25519: 'ED25519',
        'ecdsa-p256': 'ECDSA',
        'ecdsa-p384': 'ECDSA',
        rsa: 'RSA',
      }[type];
      const fp = fingerprintOf(k.publicLine);
      assert.ok(sshd!.logs().includes(`ssh2: ${label}-CERT ${fp} ID test-cert`), sshd!.logs());
    });
  }

  it('a real sshd refuses a certificate from another CA', async function () {
    const k = userKey('ed25519');
    const key = certificateKey(k.keyObject, k.wrongCertLine);
    await assert.rejects(
      execWithKey(sshd!.port, 'root', key, 'echo no'),
      /authentication methods failed/,
    );
  });

  it('a real sshd refuses a certificate that does not name the user', async function () {
    const k = userKey('ed25519');
    const key = certificateKey(k.keyObject, k.certLine);
    await assert.rejects(
      execWithKey(sshd!.port, 'nobody', key, 'echo no'),
      /authentication methods failed/,
    );
  });

  describe('against an ssh2 Server that checks the signature', function () {
    interface Seen {
      readonly keyAlgo: string;
      readonly sigAlgo: string | undefined;
    }
    let server: ssh2.Server | undefined;
    let port = 0;
    const seen: Seen[] = [];

    before(async function () {
      server = new ssh2.Server(
        { hostKeys: [await readFile(path.join(dir!, 'user_ca'))] },
        (conn) => {
          conn.on('error', () => undefined);
          conn.on('authentication', (ctx) => {
            if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
            const cert = parseCert(ctx.key.data);
            const trusted =
              cert.certType === 1 &&
              cert.principals.includes(ctx.username) &&
              cert.caKey.equals(caPublicBlob) &&
              verifySshSignature(
                cert.signature,
                cert.signedData,
                parsePublicKeyBlob(cert.caKey).key,
              ) !== undefined;
            if (!trusted) return ctx.reject(['publickey']);
            // First round: "would this key do?" has no signature.
            if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
            const sigAlgo = verifySshSignature(ctx.signature, ctx.blob, cert.key);
            seen.push({ keyAlgo: ctx.key.algo, sigAlgo });
            return sigAlgo === ctx.key.algo.replace('-cert-v01@openssh.com', '')
              ? ctx.accept()
              : ctx.reject();
          });
          conn.on('ready', () => {
            conn.on('session', (accept) => {
              accept().on('exec', (acceptExec, _reject, info) => {
                const ch = acceptExec();
                ch.write(`ssh2 ran ${info.command}\n`);
                ch.exit(0);
                ch.end();
              });
            });
          });
        },
      );
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });

    after(async function () {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    });

    for (const [type, keyAlgo, sigAlgo] of [
      ['ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'ssh-ed25519'],
      ['ecdsa-p256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp256'],
      ['ecdsa-p384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com', 'ecdsa-sha2-nistp384'],
      // The patched ssh2 Server advertises rsa-sha2-512 too; ssh2 prefers rsa-sha2-256.
      ['rsa', 'rsa-sha2-256-cert-v01@openssh.com', 'rsa-sha2-256'],
    ] as const) {
      it(`signs with ${sigAlgo} for an ${type} certificate (${keyAlgo})`, async function () {
        const k = userKey(type);
        seen.length = 0;
        const r = await execWithKey(port, 'root', certificateKey(k.keyObject, k.certLine), 'x');
        assert.deepEqual(r, { stdout: 'ssh2 ran x\n', code: 0 });
        // Unpatched ssh2 labelled the signature with the certificate algorithm (and used SHA-1 for RSA).
        assert.deepEqual(seen, [{ keyAlgo, sigAlgo }]);
      });
    }

    it('is refused with a certificate from another CA', async function () {
      const k = userKey('ecdsa-p256');
      seen.length = 0;
      const key = certificateKey(k.keyObject, k.wrongCertLine);
      await assert.rejects(execWithKey(port, 'root', key, 'x'), /authentication methods failed/);
      assert.deepEqual(seen, []);
    });
  });

  describe('certificateKey input checks', function () {
    it('accepts a KeyObject, a PKCS#8 PEM, an OpenSSH PEM, a parsed key, a cert line or blob', function () {
      const k = userKey('ed25519');
      const blob = Buffer.from(k.certLine.split(' ')[1]!, 'base64');
      const pkcs8 = k.keyObject.export({ type: 'pkcs8', format: 'pem' }) as string;
      const openssh = encodeOpenSshPrivateKey(k.keyObject);
      const parsed = ssh2.utils.parseKey(openssh) as ParsedKey;
      for (const [priv, cert] of [
        [k.keyObject, k.certLine],
        [pkcs8, Buffer.from(`${k.certLine}\n`)],
        [openssh, blob],
        [parsed, k.certLine],
        [{ keyObject: k.keyObject }, blob],
      ] as const) {
        const key = certificateKey(priv as Parameters<typeof certificateKey>[0], cert);
        assert.equal(key.type, 'ssh-ed25519-cert-v01@openssh.com');
        assert.deepEqual(key.getPublicSSH(), blob);
        assert.equal(key.isPrivateKey(), true);
      }
    });

    it('refuses a certificate for another key, a host certificate and garbage', async function () {
      const ed = userKey('ed25519');
      const ec = userKey('ecdsa-p256');
      const code = (fn: () => unknown): string | undefined => {
        try {
          fn();
        } catch (err) {
          assert.ok(err instanceof SshKeyError, String(err));
          return err.code;
        }
        return undefined;
      };
      assert.equal(
        code(() => certificateKey(ed.keyObject, ec.certLine)),
        'certificate-key-mismatch',
      );
      const other = generateKeyPairSync('ed25519').privateKey;
      assert.equal(
        code(() => certificateKey(other, ed.certLine)),
        'certificate-key-mismatch',
      );
      const hostPub = path.join(dir!, 'host_ed25519.pub');
      await writeFile(hostPub, `${ed.publicLine}\n`);
      const hostCert = await signKey(path.join(dir!, 'user_ca'), hostPub, {
        host: true,
        principals: ['h'],
      });
      assert.equal(
        code(() => certificateKey(ed.keyObject, hostCert)),
        'not-user-certificate',
      );
      assert.equal(
        code(() => certificateKey(ed.keyObject, ed.publicLine)),
        'invalid-certificate',
      );
      assert.equal(
        code(() => certificateKey(ed.keyObject, 'not a certificate')),
        'invalid-certificate',
      );
      assert.equal(
        code(() => certificateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n', ed.certLine)),
        'invalid-private-key',
      );
      const pub = createPublicKey(ed.keyObject).export({ type: 'spki', format: 'pem' }) as string;
      assert.equal(
        code(() => certificateKey(pub, ed.certLine)),
        'invalid-private-key',
      );
    });
  });
});
