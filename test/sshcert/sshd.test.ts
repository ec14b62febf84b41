import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ssh2 from 'ssh2';
import {
  encodeCertificateText,
  encodePrivateKey,
  encodePublicKeyText,
  generatePrivateKey,
  isCertificateAlgorithm,
  parseCertificate,
  parseSignature,
  signCertificate,
  verifyCertificate,
  verifySignature,
  type KeyType,
  type PrivateKey,
} from '@neetodeploy/sshcert';
import {
  makeTempDir,
  run,
  sshClientArgs,
  startSshd,
  writeKnownHosts,
  type SshdHandle,
} from '../support/openssh.js';

/** Writes a key pair and a certificate for it as `ssh -i KEY -o CertificateFile=CERT` expects. */
function writeIdentity(
  dir: string,
  name: string,
  key: PrivateKey,
  certText: string,
): { key: string; cert: string } {
  const keyFile = path.join(dir, name);
  fs.writeFileSync(keyFile, encodePrivateKey(key), { mode: 0o600 });
  fs.writeFileSync(`${keyFile}.pub`, encodePublicKeyText(key.publicKey) + '\n');
  fs.writeFileSync(`${keyFile}-cert.pub`, certText + '\n');
  return { key: keyFile, cert: `${keyFile}-cert.pub` };
}

describe('sshcert: certificates against the real sshd and ssh', function () {
  this.timeout(30000);
  const ca = generatePrivateKey('ssh-ed25519', { comment: 'test user ca' });
  let sshd: SshdHandle;
  let tmp: { dir: string; remove: () => void };
  let knownHosts: string;

  before(async () => {
    tmp = makeTempDir('sshcert-sshd-');
    sshd = await startSshd({
      trustedUserCAKeys: [encodePublicKeyText(ca.publicKey)],
      authorizedPrincipals: ['app1'],
    });
    knownHosts = path.join(tmp.dir, 'known_hosts');
    writeKnownHosts(knownHosts, sshd);
  });
  after(async () => {
    await sshd?.stop();
    tmp?.remove();
  });

  async function sshWith(files: {
    key: string;
    cert: string;
  }): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return run('ssh', [
      ...sshClientArgs(sshd, knownHosts),
      '-i',
      files.key,
      '-o',
      `CertificateFile=${files.cert}`,
      'root@127.0.0.1',
      'echo cert-login-ok',
    ]);
  }

  const types: KeyType[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa'];
  for (const type of types) {
    it(`accepts a ${type} user certificate made by sshcert`, async () => {
      const key = generatePrivateKey(type, { bits: 2048 });
      const cert = signCertificate(
        {
          publicKey: key.publicKey,
          certType: 'user',
          keyId: `alice@example.com:${type}`,
          principals: ['app1'],
          ttlSeconds: 120,
          extensions: { 'permit-pty': '' },
        },
        ca,
      );
      const r = await sshWith(
        writeIdentity(tmp.dir, `ok-${type}`, key, encodeCertificateText(cert)),
      );
      assert.equal(r.code, 0, r.stderr + sshd.logs().slice(-2000));
      assert.equal(r.stdout.trim(), 'cert-login-ok');
      assert.match(
        sshd.logs(),
        new RegExp(`Accepted publickey for root .* ID alice@example.com:${type}`),
      );
    });
  }

  it('refuses an expired certificate', async () => {
    const key = generatePrivateKey();
    const cert = signCertificate(
      {
        publicKey: key.publicKey,
        certType: 'user',
        keyId: 'expired-cert',
        principals: ['app1'],
        ttlSeconds: 60,
        now: new Date(Date.now() - 3600_000),
      },
      ca,
    );
    const r = await sshWith(writeIdentity(tmp.dir, 'expired', key, encodeCertificateText(cert)));
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied/);
    assert.match(sshd.logs(), /Certificate invalid: expired/);
  });

  it('refuses a certificate whose principal is not authorized', async () => {
    const key = generatePrivateKey();
    const cert = signCertificate(
      {
        publicKey: key.publicKey,
        certType: 'user',
        keyId: 'wrong-principal',
        principals: ['app2'],
        ttlSeconds: 60,
      },
      ca,
    );
    const r = await sshWith(writeIdentity(tmp.dir, 'wrong', key, encodeCertificateText(cert)));
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied/);
    assert.match(sshd.logs(), /Certificate does not contain an authorized principal/);
    assert.doesNotMatch(sshd.logs(), /Accepted publickey for root .* ID wrong-principal/);
  });

  it('agrees with sshd on source-address (allowed, not allowed)', async () => {
    const results: Record<string, { sshd: boolean; ours: boolean }> = {};
    for (const list of ['127.0.0.0/8,::1', '10.0.0.0/8']) {
      const key = generatePrivateKey();
      const cert = signCertificate(
        {
          publicKey: key.publicKey,
          certType: 'user',
          keyId: `source ${list}`,
          principals: ['app1'],
          ttlSeconds: 60,
          criticalOptions: { 'source-address': list },
        },
        ca,
      );
      const r = await sshWith(
        writeIdentity(tmp.dir, `src-${list.length}`, key, encodeCertificateText(cert)),
      );
      const ours = verifyCertificate(cert, {
        trustedCAs: [ca.publicKey],
        now: new Date(),
        principal: 'app1',
        sourceAddress: '127.0.0.1',
      });
      results[list] = { sshd: r.code === 0, ours: ours.ok };
    }
    assert.deepEqual(results, {
      '127.0.0.0/8,::1': { sshd: true, ours: true },
      '10.0.0.0/8': { sshd: false, ours: false },
    });
  });

  it('refuses a certificate signed by an untrusted CA', async () => {
    const key = generatePrivateKey();
    const cert = signCertificate(
      {
        publicKey: key.publicKey,
        certType: 'user',
        keyId: 'rogue',
        principals: ['app1'],
        ttlSeconds: 60,
      },
      generatePrivateKey(),
    );
    const r = await sshWith(writeIdentity(tmp.dir, 'rogue', key, encodeCertificateText(cert)));
    assert.equal(r.code, 255);
  });
});

describe('sshcert: userauth signatures made by the real ssh client verify', function () {
  this.timeout(30000);
  let tmp: { dir: string; remove: () => void };
  let server: ssh2.Server;
  let port = 0;
  let knownHosts = '';
  const ca = generatePrivateKey('ssh-ed25519');
  const seen: { algo: string; sigAlg: string; verified: boolean; certOk: boolean }[] = [];

  before(async () => {
    tmp = makeTempDir('sshcert-userauth-');
    const hostKey = generatePrivateKey();
    server = new ssh2.Server({ hostKeys: [encodePrivateKey(hostKey)] }, (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey') return ctx.reject(['publickey']);

        if (!isCertificateAlgorithm(ctx.key.algo)) return ctx.reject(['publickey']);
        const result = verifyCertificate(ctx.key.data, {
          trustedCAs: [ca.publicKey],
          now: new Date(),
          principal: ctx.username,
        });
        if (!ctx.signature || !ctx.blob)
          return result.ok ? ctx.accept() : ctx.reject(['publickey']);
        const cert = parseCertificate(ctx.key.data);
        const verified = verifySignature(cert.publicKey, ctx.blob, ctx.signature);
        seen.push({
          algo: ctx.key.algo,
          sigAlg: parseSignature(ctx.signature).algorithm,
          verified,
          certOk: result.ok,
        });
        // Also prove the check can fail: the same signature over other data must not verify.
        const other = Buffer.from(ctx.blob);
        other[other.length - 1]! ^= 1;
        if (verifySignature(cert.publicKey, other, ctx.signature)) {
          seen.push({ algo: 'tampered-data-accepted', sigAlg: '', verified: true, certOk: false });
        }
        return verified && result.ok ? ctx.accept() : ctx.reject(['publickey']);
      });
      client.on('ready', () => {
        client.on('session', (accept) => {
          const session = accept();
          session.on('exec', (acceptExec) => {
            const stream = acceptExec();
            stream.write('userauth-ok\n');
            stream.exit(0);
            stream.end();
          });
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as { port: number }).port;
    knownHosts = path.join(tmp.dir, 'known_hosts');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${encodePublicKeyText(hostKey.publicKey)}\n`);
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    tmp.remove();
  });

  const cases: [KeyType, string][] = [
    ['ssh-ed25519', 'ssh-ed25519-cert-v01@openssh.com'],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256-cert-v01@openssh.com'],
    ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384-cert-v01@openssh.com'],
    ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521-cert-v01@openssh.com'],
    ['ssh-rsa', 'rsa-sha2-512-cert-v01@openssh.com'],
    ['ssh-rsa', 'rsa-sha2-256-cert-v01@openssh.com'],
  ];
  for (const [type, algo] of cases) {
    it(`${algo}: verifies the signature OpenSSH's ssh made`, async () => {
      const key = generatePrivateKey(type, { bits: 2048 });
      const cert = signCertificate(
        {
          publicKey: key.publicKey,
          certType: 'user',
          keyId: 'k',
          principals: ['demo'],
          ttlSeconds: 60,
        },
        ca,
      );
      const files = writeIdentity(
        tmp.dir,
        `id-${cases.findIndex((c) => c[1] === algo)}`,
        key,
        encodeCertificateText(cert),
      );
      const before = seen.length;
      const r = await run('ssh', [
        ...sshClientArgs({ port }, knownHosts),
        '-o',
        // The plain algorithm too: ssh only finds the private key through an accepted plain type.
        `PubkeyAcceptedAlgorithms=${algo},${algo.replace('-cert-v01@openssh.com', '')}`,
        '-i',
        files.key,
        '-o',
        `CertificateFile=${files.cert}`,
        'demo@127.0.0.1',
        'anything',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'userauth-ok');
      assert.deepEqual(seen.slice(before), [
        { algo, sigAlg: algo.replace('-cert-v01@openssh.com', ''), verified: true, certOk: true },
      ]);
    });
  }
});
