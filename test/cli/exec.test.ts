/**
 * `neetodeploy exec` through a real bastion (ssh2 client presenting the issued certificate) and
 * stock OpenSSH through the ssh_config of `neetodeploy ssh-config`, against the local platform.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as pty from 'node-pty';
import {
  encodeCertificateText,
  encodePublicKeyText,
  generatePrivateKey,
  parsePrivateKey,
  signCertificate,
} from '@neetodeploy/sshcert';
import { credentialTag } from '../../cli/src/cert-cache.js';
import type { CliConfig } from '../../cli/src/config.js';
import { run } from '../support/openssh.js';
import { ROOT, sourceBinArgs } from '../support/paths.js';
import { ALICE, BOB, fakeIo, runBin, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';

/** Only what ssh, scp and the ssh_config's `Match exec` need. */
function bareEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
}

function runSsh(
  args: string[],
  options: { input?: string; home: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run('ssh', args, {
    env: bareEnv(options.home),
    input: options.input,
    timeoutMs: 30_000,
  });
}

describe('cli: exec and stock ssh through a real bastion', function () {
  let env: CliEnv;

  before(async function () {
    env = await startCliEnv({ bastion: 'pinned', runProcesses: true });
    await env.platform.updateConfigVars(
      'demo',
      { set: { GREETING: 'hi there' } },
      { restart: false },
    );
  });

  after(async function () {
    await env?.dispose();
  });

  it('runs a command with pipes: stdout and stderr apart, the remote exit code returned', async function () {
    const config = env.config('exec-pipes');
    await env.loginAs(config, ALICE);
    const io = fakeIo();
    const { code } = await env.run(
      config,
      ['exec', '-a', 'demo', '--', 'printenv GREETING; echo oops >&2; exit 7'],
      io,
    );
    assert.equal(code, 7);
    assert.equal(io.out(), 'hi there\n');
    assert.equal(io.err(), 'oops\n');
  });

  it('negotiates the post-quantum key exchange with the bastion (sntrup761x25519-sha512)', async function () {
    const counted = async (): Promise<number> => {
      const metric = await env.bastion!.server.metrics.keyExchanges.get();
      const value = metric.values.find((v) => v.labels.kex === 'sntrup761x25519-sha512');
      return value?.value ?? 0;
    };
    const before = await counted();
    const config = env.config('exec-kex');
    await env.loginAs(config, ALICE);
    const { code } = await env.run(config, ['exec', '-a', 'demo', '--', 'true'], fakeIo());
    assert.equal(code, 0);
    assert.equal(await counted(), before + 1);
  });

  it('streams stdin to the console and closes it (echo ls | neetodeploy exec)', async function () {
    const config = env.config('exec-stdin');
    await env.loginAs(config, ALICE);
    const io = fakeIo();
    io.stdinStream.end('echo from-stdin\nexit 3\n');
    const shell = await env.run(config, ['exec', '-a', 'demo'], io);
    assert.equal(shell.code, 3);
    assert.equal(io.out(), 'from-stdin\n');

    const io2 = fakeIo();
    const big = 'x'.repeat(200_000);
    io2.stdinStream.end(big);
    const wc = await env.run(config, ['exec', '-a', 'demo', '--', 'wc', '-c'], io2);
    assert.equal(wc.code, 0);
    assert.equal(io2.out().trim(), String(big.length));
  });

  it('--process and --pod exec beside a running instance, with its environment', async function () {
    const deadline = Date.now() + 15_000;
    while (!(await env.platform.listProcesses('demo')).some((p) => p.state === 'running')) {
      if (Date.now() > deadline) throw new Error('demo web never ran');
      await new Promise((r) => setTimeout(r, 50));
    }
    const config = env.config('exec-target');
    await env.loginAs(config, ALICE);
    const byType = await env.run(config, [
      'exec',
      '-a',
      'demo',
      '--process',
      'web',
      '--',
      'printenv',
      'DYNO',
    ]);
    assert.equal(byType.io.out(), 'web.1\n');
    const byPod = await env.run(config, [
      'exec',
      '-a',
      'demo',
      '--pod',
      'web.1',
      '--',
      'printenv',
      'DYNO',
    ]);
    assert.equal(byPod.io.out(), 'web.1\n');
    await assert.rejects(
      env.run(config, ['exec', '-a', 'demo', '--process', 'worker', '--', 'true']),
      /demo has no process type worker/,
    );
    await assert.rejects(
      env.run(config, ['exec', '-a', 'demo', '--process', 'web', '--pod', 'web.1', '--', 'true']),
      /cannot be used with option/,
    );
  });

  it('refuses apps without access and names the apps you can use', async function () {
    const config = env.config('exec-denied');
    await env.loginAs(config, BOB);
    await assert.rejects(
      env.run(config, ['exec', '-a', 'demo', '--', 'true']),
      /you may not open consoles on demo/,
    );
    const alice = env.config('exec-unknown');
    await env.loginAs(alice, ALICE);
    await assert.rejects(
      env.run(alice, ['exec', '-a', 'nope', '--', 'true']),
      /unknown app nope.*Apps you can use: demo/,
    );
  });

  it('the binary exits with the remote code', async function () {
    const token = await env.ks.token(ALICE);
    // One argument is a command line for the remote shell (as `ssh host CMD`).
    const res = await runBin(['exec', '-a', 'demo', '--', 'echo out; exit 42'], {
      HOME: path.join(env.root, 'exec-bin'),
      NEETODEPLOY_TOKEN: token,
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    });
    assert.equal(res.code, 42, res.stderr);
    assert.equal(res.stdout, 'out\n');
  });

  it('two or more arguments reach the console unchanged; -e sets variables', async function () {
    const config = env.config('exec-argv');
    await env.loginAs(config, ALICE);
    const argv = await env.run(config, [
      'exec',
      '-a',
      'demo',
      '--',
      'printf',
      '<%s>\\n',
      'a b',
      "c'd",
      'x;id',
      '$HOME',
      '',
    ]);
    assert.equal(argv.io.out(), "<a b>\n<c'd>\n<x;id>\n<$HOME>\n<>\n");
    const seven = await env.run(config, ['exec', '-a', 'demo', '--', 'sh', '-c', 'exit 7']);
    assert.equal(seven.code, 7);
    const withEnv = await env.run(config, [
      'exec',
      '-a',
      'demo',
      '-e',
      'LANG=C.UTF-8',
      '-e',
      'LC_ALL=C',
      '--',
      'echo "$LANG $LC_ALL"',
    ]);
    assert.equal(withEnv.io.out(), 'C.UTF-8 C\n');
    await assert.rejects(
      env.run(config, ['exec', '-a', 'demo', '-e', 'NOEQUALS', '--', 'true']),
      /KEY=VALUE/,
    );
  });

  it('Ctrl-C reaches the command as SIGINT even when its stdin is at EOF (exit 130)', async function () {
    const config = env.config('exec-int');
    await env.loginAs(config, ALICE);
    const io = fakeIo();
    io.stdinStream.end();
    const running = env.run(
      config,
      ['exec', '-a', 'demo', '--', 'echo started; exec sleep 100'],
      io,
    );
    const deadline = Date.now() + 15_000;
    while (!io.out().includes('started')) {
      assert.ok(Date.now() < deadline, 'the command never started');
      await new Promise((r) => setTimeout(r, 25));
    }
    io.interrupt();
    const { code } = await running;
    assert.equal(code, 130);
  });

  it('on a terminal: a shell on a pty, resizes forwarded, the exit code returned', async function () {
    const token = await env.ks.token(ALICE);
    const term = pty.spawn(process.execPath, [...sourceBinArgs('cli'), 'exec', '-a', 'demo'], {
      cols: 80,
      rows: 24,
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: path.join(env.root, 'pty-home'),
        TERM: 'xterm',
        NEETODEPLOY_TOKEN: token,
        NEETODEPLOY_API_URL: env.apiUrl,
        NEETODEPLOY_CA_FILE: env.caFile,
      },
    });
    let screen = '';
    term.onData((d) => (screen += d));
    const exited = new Promise<number>((resolve) =>
      term.onExit(({ exitCode }) => resolve(exitCode)),
    );
    const waitFor = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!re.test(screen)) {
        if (Date.now() > deadline)
          throw new Error(`no ${String(re)} on the terminal: ${JSON.stringify(screen)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      await waitFor(/[$#] $/);
      term.write('stty size; tty\r');
      await waitFor(/24 80\r*\n\/dev\/pts\//);
      term.resize(100, 30);
      await new Promise((r) => setTimeout(r, 200));
      term.write('stty size\r');
      await waitFor(/30 100/);
      term.write('exit 3\r');
      assert.equal(await exited, 3);
    } finally {
      term.kill();
    }
  });

  it('stock ssh reaches APP.neetodeploy through ProxyJump with the installed ssh_config', async function () {
    const config = env.config('stock-ssh');
    await env.loginAs(config, ALICE);
    fs.mkdirSync(path.join(config.home, '.ssh'), { mode: 0o700 });
    await env.run(config, ['ssh-config', '--install']);
    const userConfig = path.join(config.home, '.ssh', 'config');
    // Certificates are renewed by the Match exec, even when none is there yet.
    fs.rmSync(config.keysDir, { recursive: true, force: true });
    const res = await runSsh(
      [
        '-F',
        userConfig,
        '-o',
        'BatchMode=yes',
        'demo.neetodeploy',
        'printenv GREETING; cat; exit 5',
      ],
      { home: config.home, input: 'through the jump\n' },
    );
    assert.equal(res.code, 5, res.stderr);
    assert.equal(res.stdout, 'hi there\nthrough the jump\n');

    // scp in its classic mode (-O) runs `scp -t` in the console; SFTP needs a subsystem the
    // bastion does not serve.
    const src = path.join(env.root, 'upload.txt');
    fs.writeFileSync(src, 'copied over the jump\n');
    const scp = await run(
      'scp',
      ['-F', userConfig, '-o', 'BatchMode=yes', '-O', src, 'demo.neetodeploy:uploaded.txt'],
      { env: bareEnv(config.home), timeoutMs: 30_000 },
    );
    assert.equal(scp.code, 0, scp.stderr);
    const uploaded = path.join(env.platformDir, 'apps', 'demo', 'uploaded.txt');
    assert.equal(fs.readFileSync(uploaded, 'utf8'), 'copied over the jump\n');
    fs.rmSync(uploaded);
  });

  describe('the cached certificate (the one ssh-cert keeps for APP.neetodeploy)', function () {
    async function issuedCount(): Promise<number> {
      const text = await env.ks.scrapeMetrics();
      return Number(/^neetodeploy_keys_certificates_issued_total (\d+)/m.exec(text)?.[1]);
    }
    function files(config: CliConfig) {
      const key = path.join(config.keysDir, 'demo.neetodeploy');
      return { key, cert: `${key}-cert.pub`, bastion: `${key}-bastion.json` };
    }
    async function execOk(config: CliConfig): Promise<void> {
      const io = fakeIo();
      const { code } = await env.run(config, ['exec', '-a', 'demo', '--', 'echo ok'], io);
      assert.equal(code, 0, io.err());
      assert.equal(io.out(), 'ok\n');
    }

    it('is issued once and used by the next runs, until another login', async function () {
      const config = env.config('exec-cache');
      await env.loginAs(config, ALICE);
      const start = await issuedCount();
      await execOk(config);
      assert.equal(await issuedCount(), start + 1);
      const cert = fs.readFileSync(files(config).cert, 'utf8');
      await execOk(config);
      await execOk(config);
      assert.equal(await issuedCount(), start + 1, 'no certificate issued by later runs');
      assert.equal(fs.readFileSync(files(config).cert, 'utf8'), cert);

      await env.loginAs(config, ALICE);
      await execOk(config);
      assert.equal(await issuedCount(), start + 2, 'a new login issues a new certificate');
      // --process is checked by the keys-service, so it always asks.
      const io = fakeIo();
      await env.run(config, ['exec', '-a', 'demo', '--process', 'web', '--', 'true'], io);
      assert.equal(await issuedCount(), start + 3);
    });

    it('one the bastion refuses (another CA: as if revoked) is replaced, and the command runs', async function () {
      const config = env.config('exec-cache-refused');
      const token = await env.loginAs(config, ALICE);
      await execOk(config);
      const { key: keyFile, cert: certFile } = files(config);
      const key = parsePrivateKey(fs.readFileSync(keyFile));
      const forged = signCertificate(
        {
          publicKey: key.publicKey,
          certType: 'user',
          keyId: 'not from our CA',
          principals: ['demo'],
          ttlSeconds: 3600,
        },
        generatePrivateKey('ssh-ed25519'),
      );
      const tag = credentialTag(env.apiUrl, token);
      fs.writeFileSync(
        certFile,
        `${encodeCertificateText(forged)} neetodeploy-credentials:${tag}\n`,
      );
      const start = await issuedCount();
      await execOk(config);
      assert.equal(await issuedCount(), start + 1);
      assert.doesNotMatch(
        fs.readFileSync(certFile, 'utf8'),
        new RegExp(forged.blob.toString('base64')),
      );
    });

    it('a bastion that moved or changed its identity makes exec ask again', async function () {
      const config = env.config('exec-cache-moved');
      await env.loginAs(config, ALICE);
      await execOk(config);
      const recordFile = files(config).bastion;
      const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as Record<string, unknown>;
      assert.equal(record.port, env.bastion?.port);

      // Nothing listens at the recorded address any more.
      fs.writeFileSync(recordFile, JSON.stringify({ ...record, port: 1 }));
      let start = await issuedCount();
      await execOk(config);
      assert.equal(await issuedCount(), start + 1);
      assert.equal(
        (JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { port: number }).port,
        env.bastion?.port,
      );

      // The recorded identity is another key: the bastion is not trusted with it.
      const other = encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey);
      const pinned = `[127.0.0.1]:${env.bastion?.port} ${other.split(' ').slice(0, 2).join(' ')}`;
      fs.writeFileSync(recordFile, JSON.stringify({ ...record, known_hosts: pinned }));
      start = await issuedCount();
      await execOk(config);
      assert.equal(await issuedCount(), start + 1);
    });
  });
});

describe('cli: a bastion identified by a host CA only', function () {
  let env: CliEnv;

  before(async function () {
    env = await startCliEnv({ bastion: 'ca' });
  });

  after(async function () {
    await env?.dispose();
  });

  it('stock ssh checks the host certificate against the @cert-authority line', async function () {
    const config = env.config('ca-ssh');
    await env.loginAs(config, ALICE);
    const { io } = await env.run(config, ['ssh-config']);
    const file = path.join(env.root, 'ca_ssh_config');
    fs.writeFileSync(file, io.out(), { mode: 0o600 });
    assert.match(
      fs.readFileSync(path.join(config.dir, 'known_hosts'), 'utf8'),
      /^@cert-authority /,
    );
    const res = await runSsh(['-F', file, '-o', 'BatchMode=yes', 'demo.neetodeploy', 'echo ok'], {
      home: config.home,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'ok\n');
  });

  it('exec refuses a plain host key it cannot check against the CA (no trust on first use)', async function () {
    const config = env.config('ca-exec');
    await env.loginAs(config, ALICE);
    await assert.rejects(
      env.run(config, ['exec', '-a', 'demo', '--', 'true']),
      /cannot trust the bastion 127\.0\.0\.1:\d+: the bastion presented a plain host key but only a host CA is trusted/,
    );
  });
});
