/**
 * `neetodeploy port-forward` through a real bastion to the demo app's web process, and stock
 * OpenSSH (`ssh -L`, `ssh -W`) through the ssh_config of `neetodeploy ssh-config`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { freePort, run } from '../support/openssh.js';
import { ROOT } from '../support/paths.js';
import { waitForValue, waitUntil } from '../support/wait.js';
import { ALICE, BOB, fakeIo, runBin, selfCommandForTests, startCliEnv } from './harness.js';
import type { CliEnv, FakeIo } from './harness.js';

const POLICY = `
rules:
  - users: [${ALICE}]
    apps: ["*"]
    permissions: [exec, logs, port-forward]
  - users: [${BOB}]
    apps: [demo]
    permissions: [exec]
`;

function get(port: number, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
  });
}

/** The local port from the `Forwarding` line for `remote`. */
function forwardedPort(out: string, remote: number): number | undefined {
  const m = new RegExp(`^Forwarding 127\\.0\\.0\\.1:(\\d+) -> demo web\\.1:${remote}$`, 'm').exec(
    out,
  );
  return m ? Number(m[1]) : undefined;
}

describe('cli: port-forward and stock ssh -L through a real bastion', function () {
  this.timeout(60_000);
  let env: CliEnv;
  let webPort: number;

  before(async function () {
    env = await startCliEnv({ bastion: 'pinned', runProcesses: true });
    fs.writeFileSync(env.ks.policyFile, POLICY);
    const probe = env.config('policy-probe');
    await env.loginAs(probe, ALICE);
    await waitUntil(
      'the policy reload',
      async () => {
        const { io } = await env.run(probe, ['apps', '--json']);
        return io.out().includes('port-forward');
      },
      15_000,
      50,
    );
    webPort = await waitForValue(
      'the demo web process to listen',
      async () => {
        try {
          const runFile = path.join(env.platformDir, 'run', 'demo.json');
          const state = JSON.parse(fs.readFileSync(runFile, 'utf8')) as {
            instances: { name: string; port: number }[];
          };
          const port = state.instances.find((i) => i.name === 'web.1')?.port;
          return port && (await get(port)).status === 200 ? port : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      50,
    );
  });

  after(async function () {
    await env?.dispose();
  });

  it('serves HTTP from the web process, 20 connections at once, and Ctrl-C ends it with 0', async function () {
    const config = env.config('pf-http');
    await env.loginAs(config, ALICE);
    const io: FakeIo = fakeIo();
    const running = env.run(config, ['port-forward', '-a', 'demo', `0:${webPort}`], io);
    const local = await waitForValue(
      'the Forwarding line',
      () => forwardedPort(io.out(), webPort),
      15_000,
      50,
    );
    assert.match(io.err(), /Press Ctrl-C to stop/);
    const one = await get(local, '/via-cli');
    assert.equal(one.status, 200);
    assert.match(one.body, /^Hello from the neetodeploy demo app \(web\.1\)\n$/);

    // 20 connections held open at once over the one SSH connection, then each asks.
    const sockets = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(local, '127.0.0.1', () => resolve(s));
            s.once('error', reject);
          }),
      ),
    );
    const active = async (): Promise<number> =>
      (await env.bastion!.server.metrics.activeForwards.get()).values[0]?.value ?? 0;
    await waitUntil('20 forwards open', async () => (await active()) >= 20, 15_000, 50);
    const bodies = await Promise.all(
      sockets.map(
        (s, i) =>
          new Promise<string>((resolve, reject) => {
            let text = '';
            s.on('data', (d: Buffer) => (text += d.toString()));
            s.once('end', () => resolve(text));
            s.once('error', reject);
            s.end(`GET /c${i} HTTP/1.0\r\n\r\n`);
          }),
      ),
    );
    for (const body of bodies) assert.match(body, /^HTTP\/1\.1 200 OK[\s\S]*\(web\.1\)\n$/);
    const connections = (await env.bastion!.server.metrics.connections.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );

    io.interrupt();
    assert.equal((await running).code, 0);
    // All of it was one SSH connection: no new one appeared while the 21 requests ran.
    const after = (await env.bastion!.server.metrics.connections.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );
    assert.equal(after, connections);
    await waitUntil(
      'the local port closed',
      async () => {
        const open = await new Promise<boolean>((resolve) => {
          const s = net.connect(local, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
        return !open;
      },
      15_000,
      50,
    );
  });

  it('says why the bastion refused a connection, and keeps serving', async function () {
    const config = env.config('pf-refused');
    await env.loginAs(config, ALICE);
    const io = fakeIo();
    const running = env.run(config, ['port-forward', '-a', 'demo', '0:1', `0:${webPort}`], io);
    const closed = await waitForValue(
      'the Forwarding line',
      () => forwardedPort(io.out(), 1),
      15_000,
      50,
    );
    const open = await waitForValue(
      'the second Forwarding line',
      () => forwardedPort(io.out(), webPort),
      15_000,
      50,
    );
    await new Promise<void>((resolve) => {
      const s = net.connect(closed, '127.0.0.1');
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    await waitUntil('the refusal', () => /refused the connection/.test(io.err()), 15_000, 50);
    assert.match(
      io.err(),
      /neetodeploy: demo web\.1:1 refused the connection: connection refused by web\.1:1: nothing listens on that port/,
    );
    assert.equal((await get(open)).status, 200);
    io.interrupt();
    assert.equal((await running).code, 0);
  });

  it('the binary: a local port already taken is an error naming it (exit 1)', async function () {
    const taken = net.createServer();
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as net.AddressInfo).port)),
    );
    try {
      const res = await runBin(['port-forward', '-a', 'demo', `${port}:${webPort}`], {
        HOME: path.join(env.root, 'pf-taken'),
        NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
        NEETODEPLOY_API_URL: env.apiUrl,
        NEETODEPLOY_CA_FILE: env.caFile,
      });
      assert.equal(res.code, 1, res.stderr);
      assert.match(
        res.stderr,
        new RegExp(
          `^neetodeploy: local port ${port} is already in use: stop what listens there, or pick another local port \\(LOCAL:REMOTE`,
        ),
      );
    } finally {
      taken.close();
    }
  });

  it('the binary: a user without the port-forward permission is told so (exit 1)', async function () {
    const res = await runBin(['port-forward', '-a', 'demo', `0:${webPort}`], {
      HOME: path.join(env.root, 'pf-bob'),
      NEETODEPLOY_TOKEN: await env.ks.token(BOB),
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    });
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      /neetodeploy: you may not forward ports of demo: ask an admin for the port-forward permission on demo/,
    );
  });

  it('the binary: usage errors exit 2', async function () {
    const res = await runBin(['port-forward', '-a', 'demo', '80:x'], { HOME: env.root });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /"80:x" is not \[LOCAL:\]REMOTE/);
  });

  it('the binary: SIGINT (Ctrl-C) stops it with exit 0', async function () {
    const [node = process.execPath, ...args] = selfCommandForTests();
    const child = spawn(node, [...args, 'port-forward', '-a', 'demo', `0:${webPort}`], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: path.join(env.root, 'pf-sigint'),
        NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
        NEETODEPLOY_API_URL: env.apiUrl,
        NEETODEPLOY_CA_FILE: env.caFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    try {
      const local = await waitForValue(
        'the Forwarding line',
        () => forwardedPort(out, webPort),
        15_000,
        50,
      );
      assert.equal((await get(local)).status, 200);
      child.kill('SIGINT');
      assert.equal(await exited, 0, err);
    } finally {
      child.kill('SIGKILL');
    }
  });

  describe('stock OpenSSH through the installed ssh_config', () => {
    let userConfig: string;
    let home: string;

    before(async function () {
      const config = env.config('pf-stock');
      await env.loginAs(config, ALICE);
      fs.mkdirSync(path.join(config.home, '.ssh'), { mode: 0o700 });
      await env.run(config, ['ssh-config', '--install']);
      userConfig = path.join(config.home, '.ssh', 'config');
      home = config.home;
    });

    const sshEnv = (): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
    });

    it('ssh -L LOCAL:127.0.0.1:PORT -N demo.neetodeploy serves HTTP', async function () {
      const local = await freePort();
      const child = spawn(
        'ssh',
        [
          '-F',
          userConfig,
          '-o',
          'BatchMode=yes',
          '-o',
          'ExitOnForwardFailure=yes',
          '-N',
          '-L',
          `${local}:127.0.0.1:${webPort}`,
          'demo.neetodeploy',
        ],
        { env: sshEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        const res = await waitForValue(
          'a response through ssh -L',
          async () => {
            if (child.exitCode !== null) throw new Error(`ssh exited ${child.exitCode}: ${stderr}`);
            return get(local, '/stock-ssh').catch(() => undefined);
          },
          15_000,
          50,
        );
        assert.equal(res.status, 200);
        assert.match(res.body, /\(web\.1\)/);
      } finally {
        child.kill();
      }
    });

    it('ssh -W localhost:PORT demo.neetodeploy relays a request', async function () {
      const res = await run(
        'ssh',
        ['-F', userConfig, '-o', 'BatchMode=yes', '-W', `localhost:${webPort}`, 'demo.neetodeploy'],
        { env: sshEnv(), input: 'GET /stdio HTTP/1.0\r\n\r\n', timeoutMs: 30_000 },
      );
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\(web\.1\)\n$/);
    });

    it('ssh -W to another host is refused with the reason', async function () {
      const res = await run(
        'ssh',
        ['-F', userConfig, '-o', 'BatchMode=yes', '-W', '169.254.169.254:80', 'demo.neetodeploy'],
        { env: sshEnv(), timeoutMs: 30_000 },
      );
      assert.equal(res.code, 255);
      assert.match(
        res.stderr,
        /channel 0: open failed: administratively prohibited: only localhost:PORT inside demo can be forwarded, not 169\.254\.169\.254:80/,
      );
    });
  });
});
