/**
 * sntrup761x25519-sha512 in ssh2 (patches/ssh2) against independent implementations: OpenSSH's
 * `ssh` and `sshd` and PuTTY's `plink`, each running a command whose exit code must come back.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import { keygen, makeTempDir, removeDir, run, sshArgs } from '../ssh2/support.js';
import { startSshd, type SshdHandle } from '../support/openssh.js';
import { startKexServer, type KexTestServer } from './server.js';

const HOST = 'pq.neetodeploy';
const SNTRUP = 'sntrup761x25519-sha512';
const SNTRUP_OPENSSH = 'sntrup761x25519-sha512@openssh.com';

/** `algorithms.kex` with names @types/ssh2 does not know yet. */
function kexList(...names: string[]): ssh2.Algorithms {
  return { kex: names as ssh2.KexAlgorithm[] };
}

interface ExecResult {
  readonly kex: string;
  readonly code: number | null;
  readonly stdout: string;
}

/** Connects an ssh2 Client, runs `command`, and returns the negotiated kex and exit code. */
function clientExec(config: ssh2.ConnectConfig, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let kex = '';
    client.on('handshake', (n) => (kex = n.kex));
    client.on('error', reject);
    client.on('ready', () => {
      client.exec(command, (err, stream) => {
        if (err) {
          client.end();
          reject(err);
          return;
        }
        let stdout = '';
        let code: number | null = null;
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.resume();
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', () => {
          client.end();
          resolve({ kex, code, stdout });
        });
      });
    });
    client.connect({ host: '127.0.0.1', readyTimeout: 15_000, ...config });
  });
}

describe('sntrup761x25519-sha512: ssh2 against OpenSSH and PuTTY', function () {
  this.timeout(60_000);
  let dir: string | undefined;
  let hostKeyFile: string;
  let knownHosts: string;
  let server: KexTestServer;

  before(async function () {
    dir = await makeTempDir('pqkex-interop-');
    hostKeyFile = await keygen(dir, 'host_ed25519', 'ed25519');
    knownHosts = path.join(dir, 'known_hosts');
    const pub = (await readFile(`${hostKeyFile}.pub`, 'utf8')).split(' ');
    await writeFile(knownHosts, `${HOST} ${pub[0]} ${pub[1]}\n`);
    server = await startKexServer(await readFile(hostKeyFile));
  });

  after(async function () {
    await server?.close();
    await removeDir(dir);
  });

  describe('OpenSSH ssh -> ssh2 Server', function () {
    for (const kex of [SNTRUP, SNTRUP_OPENSSH]) {
      it(`ssh -o KexAlgorithms=${kex} runs a command and gets its exit code`, async function () {
        const before = server.negotiated.length;
        const r = await run('ssh', [
          ...sshArgs(server.port, knownHosts, HOST),
          '-o',
          `KexAlgorithms=${kex}`,
          'u@127.0.0.1',
          'exit 7',
        ]);
        assert.equal(r.code, 7, r.stderr);
        assert.equal(r.stdout, 'ran exit 7\n');
        assert.deepEqual(
          server.negotiated.slice(before).map((n) => n.kex),
          [kex],
        );
      });
    }

    it('stock ssh with its default KexAlgorithms negotiates the post-quantum exchange', async function () {
      const r = await run('ssh', [
        '-v',
        ...sshArgs(server.port, knownHosts, HOST),
        'u@127.0.0.1',
        'exit 0',
      ]);
      assert.equal(r.code, 0, r.stderr);
      // OpenSSH 9.2 (Debian) lists the standard name first; older builds the @openssh.com one.
      assert.match(r.stderr, /debug1: kex: algorithm: sntrup761x25519-sha512(@openssh\.com)?\r?\n/);
    });

    it('ssh -J through the ssh2 server: both hops negotiate it', async function () {
      const before = server.negotiated.length;
      const base = sshArgs(server.port, knownHosts, HOST);
      // -J builds its own ssh command line: pass the jump hop's options through a config file.
      const config = path.join(dir!, 'ssh_config');
      await writeFile(
        config,
        [
          'Host jump',
          '  HostName 127.0.0.1',
          `  Port ${server.port}`,
          '  User u',
          `  HostKeyAlias ${HOST}`,
          `  UserKnownHostsFile ${knownHosts}`,
          '  GlobalKnownHostsFile /dev/null',
          '  StrictHostKeyChecking yes',
          '  BatchMode yes',
          '  IdentitiesOnly yes',
          '  IdentityAgent none',
          `  KexAlgorithms ${SNTRUP}`,
          '',
        ].join('\n'),
      );
      base[1] = config;
      const r = await run('ssh', [
        ...base,
        '-o',
        `KexAlgorithms=${SNTRUP}`,
        '-J',
        'jump',
        'u@127.0.0.1',
        'exit 9',
      ]);
      assert.equal(r.code, 9, r.stderr);
      assert.equal(r.stdout, 'ran exit 9\n');
      assert.deepEqual(
        server.negotiated.slice(before).map((n) => n.kex),
        [SNTRUP, SNTRUP],
      );
    });
  });

  describe('PuTTY plink -> ssh2 Server', function () {
    it('plink runs a command over the NTRU Prime / Curve25519 hybrid and gets its exit code', async function () {
      const fp = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyFile}.pub`]);
      const fingerprint = fp.stdout.split(' ')[1]!;
      const before = server.negotiated.length;
      const r = await run('plink', [
        '-ssh',
        '-batch',
        '-v',
        '-noagent',
        '-P',
        String(server.port),
        '-hostkey',
        fingerprint,
        '-l',
        'u',
        '127.0.0.1',
        'exit 5',
      ]);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, 'ran exit 5\n');
      assert.match(r.stderr, /NTRU Prime \/ Curve25519 hybrid key exchange, using hash SHA-512/);
      // PuTTY 0.78 knows only the @openssh.com name.
      assert.deepEqual(
        server.negotiated.slice(before).map((n) => n.kex),
        [SNTRUP_OPENSSH],
      );
    });
  });

  describe('ssh2 Client -> OpenSSH sshd', function () {
    let sshd: SshdHandle;
    let userKey: Buffer;

    before(async function () {
      const keyFile = await keygen(dir!, 'user_ed25519', 'ed25519');
      userKey = await readFile(keyFile);
      sshd = await startSshd({
        authorizedKeys: [(await readFile(`${keyFile}.pub`, 'utf8')).trim()],
      });
    });

    after(async function () {
      await sshd?.stop();
    });

    for (const kex of [SNTRUP, SNTRUP_OPENSSH]) {
      it(`negotiates ${kex} and gets the command's exit code`, async function () {
        const r = await clientExec(
          {
            port: sshd.port,
            username: 'root',
            privateKey: userKey,
            algorithms: kexList(kex),
          },
          'echo pq; exit 4',
        );
        assert.deepEqual(r, { kex, code: 4, stdout: 'pq\n' });
      });
    }

    it('the ssh2 Client prefers it by default', async function () {
      const r = await clientExec(
        { port: sshd.port, username: 'root', privateKey: userKey },
        'exit 0',
      );
      assert.equal(r.kex, SNTRUP);
      assert.equal(r.code, 0);
    });
  });

  describe('ssh2 Client -> ssh2 Server', function () {
    it('negotiates it by default', async function () {
      const r = await clientExec({ port: server.port, username: 'u' }, 'exit 3');
      assert.deepEqual(r, { kex: SNTRUP, code: 3, stdout: 'ran exit 3\n' });
    });
  });
});
