/**
 * Port forwarding through the bastion with the real OpenSSH client: `ssh -L` and `ssh -W` to
 * `localhost:PORT` of a running process, directly (`demo:web@bastion`) and through ProxyJump
 * (`demo.neetodeploy`); the refusals, as OpenSSH prints them; audit lines and metrics.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createLocalPlatform, type LocalPlatform } from '@neetodeploy/platform';
import { ssh } from '../support/ssh-client.js';
import { freePort } from '../support/openssh.js';
import { waitForValue, waitUntil } from '../support/wait.js';
import { BASTION_NAME, startHarness, type Harness } from './harness.js';

const MAX_FORWARDS = 24;
/** Per user, all connections together: room for a second connection's few. */
const MAX_FORWARDS_PER_USER = MAX_FORWARDS + 4;

/** Echoes every byte back; on the client's EOF, ends after the last one (half-close). */
const ECHO_SERVER = `
require('node:net')
  .createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

/** The port of `app`'s running web.1, once it accepts connections. */
async function portOf(dataDir: string, app: string): Promise<number> {
  let port = 0;
  await waitUntil(
    `${app} to listen`,
    async () => {
      try {
        const run = JSON.parse(
          fs.readFileSync(path.join(dataDir, 'run', `${app}.json`), 'utf8'),
        ) as {
          instances: { name: string; port: number }[];
        };
        port = run.instances.find((i) => i.name === 'web.1')?.port ?? 0;
        return (
          port > 0 &&
          (await new Promise<boolean>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.end();
              resolve(true);
            });
            s.on('error', () => resolve(false));
          }))
        );
      } catch {
        return false;
      }
    },
    5000,
  );
  return port;
}

/** JSON log lines of the bastion, as written. */
class LogSink extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    cb();
  }
  events(name: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.event === name);
  }
}

function get(port: number, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
  });
}

async function metric(h: Harness, pattern: RegExp): Promise<number> {
  const text = await h.bastion.metrics.registry.metrics();
  const line = text.split('\n').find((l) => pattern.test(l));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** `ssh -N -L ...` running; resolves once a request through it succeeds. */
async function startTunnel(
  config: string,
  args: readonly string[],
  localPort: number,
): Promise<{ child: ChildProcess; stderr: () => string; stop: () => Promise<void> }> {
  const child = spawn('ssh', ['-F', config, '-N', '-o', 'ExitOnForwardFailure=yes', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ssh exited ${child.exitCode}: ${stderr}`);
    try {
      await get(localPort);
      return { child, stderr: () => stderr, stop };
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`tunnel not ready: ${(err as Error).message}; ssh said: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('bastion: port forwarding with the real OpenSSH client', function () {
  this.timeout(60_000);
  const sink = new LogSink();
  let h: Harness;
  let runner: LocalPlatform;
  let webPort: number;
  let echoPort: number;
  let config: string;
  let noForwarding: string;

  before(async () => {
    h = await startHarness({
      logStream: sink,
      logLevel: 'info',
      notBefore: {},
      config: ({ userCaPub, notBefore }) => ({
        portForwarding: { maxPerConnection: MAX_FORWARDS, maxPerUser: MAX_FORWARDS_PER_USER },
        trust: {
          static: { userCaKeyFiles: [userCaPub], notBeforeFile: notBefore, reloadIntervalMs: 300 },
        },
      }),
    });
    const dataDir = path.join(h.dir, 'data');
    fs.mkdirSync(path.join(dataDir, 'apps', 'jobs'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'apps', 'jobs', 'Procfile'), 'worker: exec sleep 1000\n');
    const echoDir = path.join(dataDir, 'apps', 'echo');
    fs.mkdirSync(echoDir, { recursive: true });
    fs.writeFileSync(path.join(echoDir, 'echo.cjs'), ECHO_SERVER);
    fs.writeFileSync(
      path.join(echoDir, 'Procfile'),
      `web: exec ${JSON.stringify(process.execPath)} echo.cjs\n`,
    );
    // The bastion's platform only reads the data dir; this one runs the apps, as `npm start` does.
    runner = await createLocalPlatform(
      { dataDir, runProcesses: true, createDemoApp: false, limits: { stopGraceMs: 500 } },
      { logger: pino({ level: 'silent' }) },
    );
    await waitUntil(
      'the demo web process to listen',
      async () => {
        try {
          const run = JSON.parse(
            fs.readFileSync(path.join(dataDir, 'run', 'demo.json'), 'utf8'),
          ) as {
            instances: { name: string; port: number }[];
          };
          webPort = run.instances.find((i) => i.name === 'web.1')?.port ?? 0;
          return webPort > 0 && (await get(webPort)).status === 200;
        } catch {
          return false;
        }
      },
      5000,
    );
    echoPort = await portOf(dataDir, 'echo');
    ({ config } = await h.user('dev', {
      principals: ['demo', 'jobs', 'echo'],
      options: ['clear', 'permit-pty', 'permit-port-forwarding'],
    }));
    ({ config: noForwarding } = await h.user('nopf', { principals: ['demo'] }));
  });
  after(async () => {
    await runner?.close();
    await h?.close();
  });

  it('ssh -L to demo:web@bastion serves HTTP from the web process, audited and counted', async () => {
    const local = await freePort();
    const tunnel = await startTunnel(
      config,
      ['-L', `${local}:127.0.0.1:${webPort}`, 'demo:web@bastion'],
      local,
    );
    try {
      const res = await get(local, '/through-the-bastion');
      assert.equal(res.status, 200);
      assert.match(res.body, /^Hello from the neetodeploy demo app \(web\.1\)\n$/);
    } finally {
      await tunnel.stop();
    }
    await waitUntil('the close audit lines', () => sink.events('forward.close').length >= 2, 5000);
    const open = sink.events('forward.open').at(-1)!;
    assert.equal(open.audit, true);
    assert.equal(open.user, 'dev@example.com');
    assert.equal(open.app, 'demo');
    assert.equal(open.target, 'demo:web');
    assert.equal(open.instance, 'web.1');
    assert.equal(open.port, webPort);
    assert.equal(open.kind, 'direct');
    const close = sink.events('forward.close').find((c) => c.forwardId === open.forwardId)!;
    assert.ok((close.bytesIn as number) > 50, 'the request went in');
    assert.ok((close.bytesOut as number) > 100, 'the response came out');
    assert.equal(typeof close.durationMs, 'number');
    assert.equal(await metric(h, /^neetodeploy_bastion_active_forwards /), 0);
    assert.ok((await metric(h, /forward_bytes_total\{direction="out"\}/)) >= 100);
  });

  it('ssh -L through ProxyJump to the bare demo.neetodeploy reaches the web process', async () => {
    const local = await freePort();
    const tunnel = await startTunnel(
      config,
      ['-L', `${local}:localhost:${webPort}`, 'demo.neetodeploy'],
      local,
    );
    try {
      const res = await get(local);
      assert.equal(res.status, 200);
      assert.match(res.body, /\(web\.1\)/);
      await waitUntil(
        'a jump forward in the audit',
        () => sink.events('forward.open').some((e) => e.kind === 'jump' && e.target === 'demo'),
        5000,
      );
    } finally {
      await tunnel.stop();
    }
  });

  it('serves 20 concurrent connections through one forward', async () => {
    const local = await freePort();
    const tunnel = await startTunnel(
      config,
      ['-L', `${local}:127.0.0.1:${webPort}`, 'demo:pod=web.1@bastion'],
      local,
    );
    try {
      // Each request holds its connection open until all 20 are open at once.
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
      await waitUntil(
        '20 forwards open at once',
        async () => (await metric(h, /^neetodeploy_bastion_active_forwards /)) === 20,
        5000,
      );
      const bodies = await Promise.all(
        sockets.map(
          (s, i) =>
            new Promise<string>((resolve, reject) => {
              let text = '';
              s.on('data', (d: Buffer) => (text += d.toString()));
              s.once('end', () => resolve(text));
              s.once('error', reject);
              s.end(`GET /n${i} HTTP/1.0\r\nHost: x\r\n\r\n`);
            }),
        ),
      );
      for (const body of bodies) assert.match(body, /^HTTP\/1\.1 200 OK[\s\S]*\(web\.1\)\n$/);
    } finally {
      await tunnel.stop();
    }
  });

  it('ssh -W localhost:PORT through ProxyJump relays a request and half-closes', async () => {
    const r = await ssh(config, ['-W', `localhost:${webPort}`, 'demo:web@demo.neetodeploy'], {
      input: 'GET /stdio HTTP/1.0\r\n\r\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\(web\.1\)\n$/);
  });

  describe('refusals, as OpenSSH prints them', () => {
    const cases: [string, () => string, () => string, () => RegExp][] = [
      [
        'a certificate without permit-port-forwarding',
        () => noForwarding,
        () => `localhost:${webPort}`,
        () =>
          /channel 0: open failed: administratively prohibited: port forwarding to demo is not allowed for nopf@example\.com: ask an admin for the port-forward permission on demo/,
      ],
      [
        'the cloud metadata address',
        () => config,
        () => '169.254.169.254:80',
        () =>
          /channel 0: open failed: administratively prohibited: only localhost:PORT inside demo:web can be forwarded, not 169\.254\.169\.254:80/,
      ],
      [
        "the bastion's own port by name",
        () => config,
        () => `${BASTION_NAME}:${h.address.port}`,
        () =>
          /open failed: administratively prohibited: only localhost:PORT inside demo:web can be forwarded/,
      ],
      [
        "the bastion's own port on loopback (not the process's)",
        () => config,
        () => `127.0.0.1:${h.address.port}`,
        () =>
          new RegExp(
            `channel 0: open failed: connect failed: connection refused by web\\.1:${h.address.port}: nothing listens on that port`,
          ),
      ],
      [
        "another pod's address",
        () => config,
        () => '10.0.0.7:5000',
        () =>
          /administratively prohibited: only localhost:PORT inside demo:web can be forwarded, not 10\.0\.0\.7:5000/,
      ],
      [
        'a port nothing listens on',
        () => config,
        () => 'localhost:1',
        () => /connect failed: connection refused by web\.1:1: nothing listens on that port/,
      ],
    ];
    for (const [name, cfg, dest, message] of cases) {
      it(`refuses ${name}`, async () => {
        const before = await metric(h, /refused_requests_total\{type="direct-tcpip"\}/);
        const r = await ssh(cfg(), ['-W', dest(), 'demo:web@bastion']);
        assert.equal(r.code, 255);
        assert.match(r.stderr, message());
        assert.match(r.stderr, /stdio forwarding failed/);
        assert.equal(await metric(h, /refused_requests_total\{type="direct-tcpip"\}/), before + 1);
      });
    }

    it('refuses a one-off console target (an app with no web process)', async () => {
      const r = await ssh(config, ['-W', 'localhost:5000', 'jobs@bastion']);
      assert.equal(r.code, 255);
      assert.match(
        r.stderr,
        /channel 0: open failed: administratively prohibited: a one-off console has no ports to forward: name a running process/,
      );
      assert.ok((await metric(h, /forward_refusals_total\{reason="one-off"\}/)) >= 1);
    });

    it('-L: the refusal reaches the terminal of the user who ran ssh -L', async () => {
      const local = await freePort();
      const child = spawn(
        'ssh',
        ['-F', config, '-N', '-L', `${local}:169.254.169.254:80`, 'demo:web@bastion'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        await waitUntil(
          'the refusal on stderr',
          async () => {
            await new Promise<void>((resolve) => {
              const s = net.connect(local, '127.0.0.1');
              s.on('error', () => resolve());
              s.on('close', () => resolve());
              setTimeout(() => s.destroy(), 300);
            });
            return /open failed/.test(stderr);
          },
          10_000,
        );
        assert.match(
          stderr,
          /channel \d+: open failed: administratively prohibited: only localhost:PORT inside demo:web can be forwarded, not 169\.254\.169\.254:80/,
        );
      } finally {
        child.kill();
      }
    });

    it(`refuses forwards beyond ${MAX_FORWARDS} on one connection with resource shortage`, async () => {
      const local = await freePort();
      const tunnel = await startTunnel(
        config,
        ['-L', `${local}:127.0.0.1:${webPort}`, 'demo:web@bastion'],
        local,
      );
      const held: net.Socket[] = [];
      try {
        // The request that showed the tunnel is up must have closed first.
        await waitUntil(
          'no forward open',
          async () => (await metric(h, /^neetodeploy_bastion_active_forwards /)) === 0,
          5000,
        );
        for (let i = 0; i < MAX_FORWARDS; i++) {
          held.push(net.connect(local, '127.0.0.1').on('error', () => undefined));
        }
        await waitUntil(
          'every forward open',
          async () => (await metric(h, /^neetodeploy_bastion_active_forwards /)) === MAX_FORWARDS,
          5000,
        );
        const extra = net.connect(local, '127.0.0.1').on('error', () => undefined);
        await waitUntil('the refusal', () => /resource shortage/.test(tunnel.stderr()), 5000);
        assert.match(
          tunnel.stderr(),
          new RegExp(
            `open failed: resource shortage: too many port forwards on this connection \\(limit ${MAX_FORWARDS}\\): close some and retry`,
          ),
        );
        extra.destroy();
      } finally {
        for (const s of held) s.destroy();
        await tunnel.stop();
      }
    });

    it(`refuses forwards beyond ${MAX_FORWARDS_PER_USER} of one user over all their connections`, async () => {
      const locals = [await freePort(), await freePort()] as const;
      const tunnels = [
        await startTunnel(
          config,
          ['-L', `${locals[0]}:127.0.0.1:${webPort}`, 'demo:web@bastion'],
          locals[0],
        ),
        await startTunnel(
          config,
          ['-L', `${locals[1]}:127.0.0.1:${webPort}`, 'demo:web@bastion'],
          locals[1],
        ),
      ] as const;
      const held: net.Socket[] = [];
      const hold = (port: number): void => {
        held.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
      };
      const open = async (): Promise<number> => metric(h, /^neetodeploy_bastion_active_forwards /);
      try {
        await waitUntil('no forward open', async () => (await open()) === 0, 5000);
        for (let i = 0; i < MAX_FORWARDS; i++) hold(locals[0]);
        for (let i = MAX_FORWARDS; i < MAX_FORWARDS_PER_USER; i++) hold(locals[1]);
        await waitUntil(
          'every forward open',
          async () => (await open()) === MAX_FORWARDS_PER_USER,
          5000,
        );
        // The second connection is far below its own limit: the user's total refuses this one.
        hold(locals[1]);
        await waitUntil('the refusal', () => /resource shortage/.test(tunnels[1].stderr()), 5000);
        assert.match(
          tunnels[1].stderr(),
          new RegExp(
            `open failed: resource shortage: too many port forwards for \\S+ on this bastion \\(limit ${MAX_FORWARDS_PER_USER}, all connections together\\): close some and retry`,
          ),
        );
        assert.equal(await open(), MAX_FORWARDS_PER_USER);
        // Closing some gives the user room again, on either connection.
        for (const socket of held.splice(0, 2)) socket.destroy();
        await waitUntil(
          'two closed',
          async () => (await open()) <= MAX_FORWARDS_PER_USER - 2,
          5000,
        );
        hold(locals[1]);
        await waitUntil(
          'a new forward open',
          async () => (await open()) === MAX_FORWARDS_PER_USER - 1,
          5000,
        );
      } finally {
        for (const socket of held) socket.destroy();
        for (const t of tunnels) await t.stop();
      }
    });
  });

  it('ssh -W carries 32 MiB both ways intact through ProxyJump (backpressure, half-close)', async () => {
    const data = randomBytes(32 * 1024 * 1024);
    const r = await ssh(config, ['-W', `127.0.0.1:${echoPort}`, 'echo:web@echo.neetodeploy'], {
      input: data,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, data.length);
    assert.ok(r.stdout.equals(data), 'the bytes came back unchanged');
  });

  it('revoking the user ends an open forward, and the close is audited', async () => {
    const { config: revConfig } = await h.user('rev', {
      principals: ['demo'],
      options: ['clear', 'permit-port-forwarding'],
    });
    const closedIds = () => new Set(sink.events('forward.close').map((e) => e.forwardId as string));
    const local = await freePort();
    const tunnel = await startTunnel(
      revConfig,
      ['-L', `${local}:127.0.0.1:${webPort}`, 'demo:web@bastion'],
      local,
    );
    try {
      // startTunnel's readiness probe opened a forward of its own, whose close may not be audited
      // yet: the held forward is the one opened after it (matching the probe's raced the
      // revocation against the held connection's open, and failed about one run in eight).
      const opened = () =>
        sink
          .events('forward.open')
          .filter((e) => e.user === 'rev@example.com')
          .map((e) => e.forwardId as string);
      const before = new Set(opened());
      const held = net.connect(local, '127.0.0.1');
      const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
      held.on('error', () => undefined);
      const heldId = await waitForValue(
        'the held forward open',
        () => opened().find((id) => !before.has(id) && !closedIds().has(id)),
        5000,
      );
      fs.writeFileSync(
        path.join(h.dir, 'not-before.json'),
        JSON.stringify({ 'rev@example.com': Math.floor(Date.now() / 1000) + 1 }),
      );
      await closed;
      // The audit line follows the client's answer to our channel close, or the disconnect after
      // the grace.
      await waitUntil(
        'the close audit of the revoked forward',
        () =>
          sink.events('forward.close').some((e) => e.forwardId === heldId && e.error !== undefined),
        15_000,
      );
    } finally {
      await tunnel.stop();
    }
  });
});
