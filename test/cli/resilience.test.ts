/**
 * Issue 15, items 6 and 7, through the real `neetodeploy` binary: `logs --tail` survives a
 * restart of the keys-service (same port) with every line exactly once, and a login or an
 * ssh_config left behind by an API that moved says so and what to run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from '../support/paths.js';
import { startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import { waitUntil } from '../support/wait.js';
import { saveCredentials } from '../../cli/src/config.js';
import {
  ALICE,
  CLI_POLICY,
  TICKER_PROCFILE,
  fakeIo,
  runBin,
  selfCommandForTests,
  startCliEnv,
} from './harness.js';
import type { CliEnv } from './harness.js';

describe('cli: resilience (issue 15 items 6 and 7), through the binary', function () {
  let env: CliEnv;
  let restarted: TestKeysService | undefined;

  before(async function () {
    env = await startCliEnv({ runProcesses: true, extraApps: { ticker: TICKER_PROCFILE } });
  });

  after(async function () {
    await restarted?.stop();
    await env?.dispose();
  });

  it('logs --tail reconnects when the keys-service restarts, with no line lost or repeated', async function () {
    this.timeout(60_000);
    const port = Number(new URL(env.apiUrl).port);
    const [node = process.execPath, ...nodeArgs] = selfCommandForTests();
    const child = spawn(node, [...nodeArgs, 'logs', '-a', 'ticker', '--tail', '-n', '2'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: path.join(env.root, 'tail-home'),
        NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
        NEETODEPLOY_API_URL: env.apiUrl,
        NEETODEPLOY_CA_FILE: env.caFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const ticks = (): number[] =>
      [...stdout.matchAll(/app\[web\.1\]: tick (\d+)$/gm)].map((m) => Number(m[1]));
    try {
      await waitUntil('the first lines', () => ticks().length >= 4, 15_000, 50);
      await env.ks.stop();
      await waitUntil(
        'the interruption notice',
        () => /interrupted, reconnecting/.test(stderr),
        15_000,
        50,
      );
      const before = ticks().length;
      // The app keeps printing while the API is away: those lines must come after the restart.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(ticks().length, before, 'nothing streams while the API is down');
      restarted = await startKeysService({
        dataDir: env.ks.dataDir,
        deps: { platform: env.platform },
        config: { listen: { host: '127.0.0.1', port } },
        policy: CLI_POLICY,
      });
      await waitUntil('the resumed notice', () => /log stream resumed/.test(stderr), 15_000, 50);
      await waitUntil('lines after the restart', () => ticks().length >= before + 20, 15_000, 50);
      assert.equal(child.exitCode, null, `still following; stderr: ${stderr}`);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, stderr);
    const seen = ticks();
    for (let i = 1; i < seen.length; i++) {
      assert.equal(seen[i], (seen[i - 1] ?? 0) + 1, `consecutive ticks:\n${stdout}`);
    }
    assert.equal(stderr.match(/log stream interrupted, reconnecting\.\.\./g)?.length, 1, stderr);
    assert.equal(stderr.match(/log stream resumed/g)?.length, 1, stderr);
    assert.ok(!stderr.includes('\x1b'), 'no escape codes into a pipe');
  });

  it('a login and an ssh_config left behind by an API that moved say so and what to run', async function () {
    this.timeout(60_000);
    const config = env.config('moved');
    const vars = { HOME: config.home, NEETODEPLOY_CONFIG_DIR: config.dir };
    const first = await startKeysService({
      policy: CLI_POLICY,
      deps: { platform: env.platform },
      config: { bastion: { host: '127.0.0.1', port: 2201 } },
    });
    const caFile = path.join(env.root, 'moved-ca.pem');
    fs.writeFileSync(caFile, first.ca);
    const oldUrl = first.address.url;
    let second: TestKeysService | undefined;
    let squatter: net.Server | undefined;
    try {
      const token = await first.token(ALICE);
      await saveCredentials(config, { apiUrl: oldUrl, token, email: ALICE, caFile });
      // In-process where the exit code is not the point (each spawn of the binary costs seconds).
      assert.equal((await env.run(config, ['ssh-config', '--install'])).code, 0);
      assert.match(fs.readFileSync(path.join(config.dir, 'ssh_config'), 'utf8'), /Port 2201\n/);

      // The API restarts elsewhere, with its bastion on another port too.
      await first.stop();
      second = await startKeysService({
        dataDir: first.dataDir,
        deps: { platform: env.platform },
        config: { bastion: { host: '127.0.0.1', port: 2202 } },
      });
      const refused = await runBin(['apps'], vars);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        new RegExp(
          `cannot reach the API at ${oldUrl.replace(/\./g, '\\.')} \\(ECONNREFUSED\\).*run \`neetodeploy login --api URL\` with its new address`,
        ),
      );
      // (Until the cached certificate expires, ssh-cert asks nothing: --force stands for later.)
      const noCert = await env.run(config, ['ssh-cert', 'demo.neetodeploy', '--force']);
      assert.equal(noCert.code, 0, 'ssh-cert always lets ssh go on');
      assert.match(
        noCert.io.err(),
        /no certificate for demo\.neetodeploy: cannot reach the API.*neetodeploy login --api URL/,
      );

      // Something else took the old port: still not the API, and still what to do.
      squatter = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
      await new Promise<void>((resolve) =>
        squatter?.listen(Number(new URL(oldUrl).port), '127.0.0.1', resolve),
      );
      await assert.rejects(
        env.run(config, ['apps']),
        /is the keys-service still there\? If it moved .*neetodeploy login --api URL/,
      );

      const loginIo = fakeIo();
      loginIo.stdinStream.end(`${await second.token(ALICE)}\n`);
      const login = await env.run(
        config,
        ['login', '--with-token', '--api', second.address.url, '--ca-file', caFile],
        loginIo,
      );
      assert.equal(login.code, 0);
      assert.match(
        login.io.err(),
        new RegExp(
          `your ssh_config was written for the API at ${oldUrl.replace(/\./g, '\\.')}: run \`neetodeploy ssh-config --install\` again`,
        ),
      );
      const moved = await env.run(config, ['ssh-cert', 'demo.neetodeploy']);
      assert.equal(moved.code, 0);
      assert.match(
        moved.io.err(),
        /your ssh_config sends ssh to the bastion at 127\.0\.0\.1:2201, but it is now at 127\.0\.0\.1:2202: run `neetodeploy ssh-config --install` again/,
      );

      assert.equal((await env.run(config, ['ssh-config', '--install'])).code, 0);
      const fresh = await env.run(config, ['ssh-cert', 'demo.neetodeploy', '--force']);
      assert.equal(fresh.code, 0);
      assert.equal(fresh.io.err(), '', 'no warning once ssh_config is current');
    } finally {
      squatter?.close();
      await second?.dispose();
      await first.dispose();
    }
  });
});
