/**
 * patches/ssh2+1.17.0.patch, server side: an ssh2 Server given `{ key, certificate }` serves
 * the host certificate to the real OpenSSH client (trusting only an @cert-authority line) and
 * the plain key to clients that pin it.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import { startHostServer, type TestHostServer } from './host-server.js';
import { rawKex } from './raw-kex.js';
import {
  keygen,
  makeTempDir,
  parseCert,
  parsePublicKeyBlob,
  removeDir,
  run,
  signKey,
  sshArgs,
  verifySshSignature,
  type KeygenType,
} from './support.js';

const HOST = 'demo.neetodeploy';

interface HostFixture {
  readonly type: KeygenType;
  readonly keyPem: Buffer;
  readonly certLine: string;
  readonly plainBlob: Buffer;
  server?: TestHostServer;
}

describe('ssh2 patch: host certificates (server side)', function () {
  let dir: string | undefined;
  let knownHosts: string;
  let wrongCaKnownHosts: string;
  const fixtures = new Map<KeygenType, HostFixture>();

  before(async function () {
    dir = await makeTempDir('ssh2-hostcert-');
    const ca = await keygen(dir, 'host_ca', 'ed25519');
    const wrongCa = await keygen(dir, 'wrong_ca', 'ed25519');
    knownHosts = path.join(dir, 'known_hosts');
    wrongCaKnownHosts = path.join(dir, 'known_hosts_wrong');
    await writeFile(
      knownHosts,
      `@cert-authority ${HOST},*.neetodeploy ${await readFile(`${ca}.pub`, 'utf8')}`,
    );
    await writeFile(
      wrongCaKnownHosts,
      `@cert-authority ${HOST} ${await readFile(`${wrongCa}.pub`, 'utf8')}`,
    );
    await Promise.all(
      (['ed25519', 'ecdsa', 'rsa'] as const).map(async (type) => {
        const key = await keygen(dir!, `host_${type}`, type);
        const certLine = await signKey(ca, `${key}.pub`, {
          host: true,
          principals: [HOST, '*.neetodeploy'],
        });
        const pubLine = await readFile(`${key}.pub`, 'utf8');
        const plainBlob = Buffer.from(pubLine.split(' ')[1]!, 'base64');
        const f: HostFixture = { type, keyPem: await readFile(key), certLine, plainBlob };
        f.server = await startHostServer([{ key: f.keyPem, certificate: certLine }]);
        fixtures.set(type, f);
      }),
    );
  });

  after(async function () {
    await Promise.all([...fixtures.values()].map((f) => f.server?.close() ?? Promise.resolve()));
    await removeDir(dir);
  });

  function fixture(type: KeygenType): HostFixture & { server: TestHostServer } {
    const f = fixtures.get(type);
    assert.ok(f?.server);
    return f as HostFixture & { server: TestHostServer };
  }

  for (const [type, certAlgo] of [
    ['ed25519', 'ssh-ed25519-cert-v01@openssh.com'],
    ['ecdsa', 'ecdsa-sha2-nistp256-cert-v01@openssh.com'],
    ['rsa', 'rsa-sha2-512-cert-v01@openssh.com'],
  ] as const) {
    it(`real ssh trusts a ${type} host certificate with only an @cert-authority line`, async function () {
      const f = fixture(type);
      const before = f.server.negotiated.length;
      const r = await run('ssh', [
        ...sshArgs(f.server.port, knownHosts, HOST),
        'u@127.0.0.1',
        'hello',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ran hello\n');
      assert.deepEqual(f.server.negotiated.slice(before), [certAlgo]);
    });
  }

  it('real ssh refuses a host certificate from another CA', async function () {
    const f = fixture('ed25519');
    const r = await run('ssh', [
      ...sshArgs(f.server.port, wrongCaKnownHosts, HOST),
      'u@127.0.0.1',
      'hello',
    ]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Host key verification failed/);
    assert.equal(r.stdout, '');
  });

  it('real ssh refuses a host certificate that does not list the host name', async function () {
    const f = fixture('ed25519');
    const args = sshArgs(f.server.port, knownHosts, 'other.neetodeploy.example');
    await writeFile(
      `${knownHosts}.other`,
      (await readFile(knownHosts, 'utf8')).replace(HOST, '*.example'),
    );
    args[args.indexOf(`UserKnownHostsFile=${knownHosts}`)] =
      `UserKnownHostsFile=${knownHosts}.other`;
    const r = await run('ssh', [...args, 'u@127.0.0.1', 'hello']);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /name is not a listed principal/);
    assert.match(r.stderr, /Host key verification failed/);
  });

  it('advertises rsa-sha2-512 in server-sig-algs (the missing comma)', async function () {
    const f = fixture('ed25519');
    const r = await run('ssh', [
      '-v',
      ...sshArgs(f.server.port, knownHosts, HOST),
      'u@127.0.0.1',
      'x',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const algs = /server-sig-algs=<([^>]*)>/.exec(r.stderr)?.[1]?.split(',');
    assert.ok(algs, 'no server-sig-algs in ssh -v output');
    assert.ok(algs.includes('rsa-sha2-512'), algs.join(','));
    assert.ok(algs.includes('ecdsa-sha2-nistp521'), algs.join(','));
  });

  for (const [type, certAlgo, plainAlgo, sigAlgo] of [
    ['ed25519', 'ssh-ed25519-cert-v01@openssh.com', 'ssh-ed25519', 'ssh-ed25519'],
    [
      'ecdsa',
      'ecdsa-sha2-nistp256-cert-v01@openssh.com',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp256',
    ],
    ['rsa', 'rsa-sha2-512-cert-v01@openssh.com', 'ssh-rsa', 'rsa-sha2-512'],
    ['rsa', 'rsa-sha2-256-cert-v01@openssh.com', 'ssh-rsa', 'rsa-sha2-256'],
  ] as const) {
    it(`signs the exchange hash as ${sigAlgo} when ${certAlgo} is negotiated`, async function () {
      const f = fixture(type);
      const reply = await rawKex(f.server.port, certAlgo);
      // K_S is the certificate, of the certified key's type.
      const certBlob = Buffer.from(f.certLine.split(' ')[1]!, 'base64');
      assert.deepEqual(reply.hostKeyBlob, certBlob);
      const cert = parseCert(reply.hostKeyBlob);
      assert.equal(cert.type, `${plainAlgo}-cert-v01@openssh.com`);
      // Unpatched ssh2 named the signature `certAlgo`; OpenSSH then says "key type does not match".
      assert.equal(verifySshSignature(reply.signature, reply.exchangeHash, cert.key), sigAlgo);
    });
  }

  it('still serves the plain key under its own algorithm', async function () {
    const f = fixture('rsa');
    const reply = await rawKex(f.server.port, 'rsa-sha2-512');
    assert.deepEqual(reply.hostKeyBlob, f.plainBlob);
    const { key } = parsePublicKeyBlob(reply.hostKeyBlob);
    assert.equal(verifySshSignature(reply.signature, reply.exchangeHash, key), 'rsa-sha2-512');
  });

  for (const type of ['ed25519', 'rsa'] as const) {
    it(`an ssh2 Client pinning the plain ${type} key still connects`, async function () {
      const f = fixture(type);
      const seen: Buffer[] = [];
      const client = new ssh2.Client();
      try {
        await new Promise<void>((resolve, reject) => {
          client.once('ready', () => resolve());
          client.once('error', reject);
          client.connect({
            host: '127.0.0.1',
            port: f.server.port,
            username: 'u',
            readyTimeout: 10_000,
            hostVerifier: (key: Buffer) => {
              seen.push(key);
              return key.equals(f.plainBlob);
            },
          });
        });
      } finally {
        client.end();
      }
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0], f.plainBlob);
    });
  }

  it('real ssh with only a pinned plain key (no CA) still connects', async function () {
    const f = fixture('ed25519');
    const pinned = path.join(dir!, 'known_hosts_pinned');
    await writeFile(pinned, `${HOST} ssh-ed25519 ${f.plainBlob.toString('base64')}\n`);
    const before = f.server.negotiated.length;
    // By default OpenSSH still picks the certificate and checks the key inside against the pin.
    const byDefault = await run('ssh', [
      ...sshArgs(f.server.port, pinned, HOST),
      'u@127.0.0.1',
      'pinned',
    ]);
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.equal(byDefault.stdout, 'ran pinned\n');
    const args = [...sshArgs(f.server.port, pinned, HOST), '-o', 'HostKeyAlgorithms=ssh-ed25519'];
    const plainOnly = await run('ssh', [...args, 'u@127.0.0.1', 'plain']);
    assert.equal(plainOnly.code, 0, plainOnly.stderr);
    assert.equal(plainOnly.stdout, 'ran plain\n');
    assert.deepEqual(f.server.negotiated.slice(before), [
      'ssh-ed25519-cert-v01@openssh.com',
      'ssh-ed25519',
    ]);
  });

  it('refuses a certificate that is not a host certificate of that key', async function () {
    const ed = fixture('ed25519');
    const ec = fixture('ecdsa');
    const otherEd = await keygen(dir!, 'other_ed25519', 'ed25519');
    const ca = path.join(dir!, 'host_ca');
    const otherCert = await signKey(ca, `${otherEd}.pub`, { host: true, principals: [HOST] });
    const userCert = await signKey(ca, `${otherEd}.pub`, { principals: ['u'] });
    const make = (certificate: string): unknown =>
      new ssh2.Server({ hostKeys: [{ key: ed.keyPem, certificate }] }, () => undefined);
    assert.throws(
      () => make(ec.certLine),
      /Cannot use host certificate: certificate is not of type/,
    );
    assert.throws(
      () => make(otherCert),
      /Cannot use host certificate: certificate does not certify this host key/,
    );
    const otherKey = await readFile(otherEd);
    assert.throws(
      () =>
        new ssh2.Server({ hostKeys: [{ key: otherKey, certificate: userCert }] }, () => undefined),
      /certificate is not a host certificate/,
    );
    // The raw blob works as well as the text line.
    const blob = Buffer.from(ed.certLine.split(' ')[1]!, 'base64');
    assert.ok(
      new ssh2.Server({ hostKeys: [{ key: ed.keyPem, certificate: blob }] }, () => undefined),
    );
  });
});
