/**
 * Port forwarding on the local platform: a TCP connection to a port a running instance listens
 * on, as the instance's own loopback would serve it; every other port is refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  BadRequest,
  NotFound,
  PortForwardRefused,
  createLocalPlatform,
  type LocalPlatform,
  type PortForwardStream,
} from '@neetodeploy/platform';
import { silent, tempDataDir, useLocalPlatforms, writeApp } from './local-harness.js';
import { waitUntil } from '../support/wait.js';

/** An echo server: echoes, and on the client's EOF writes `bye` and ends (half-close). */
const ECHO_SERVER = `
const net = require('node:net');
// Probes and resets are part of the tests: a reset connection must not kill the server.
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end('bye'));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('echo up'));
const debug = net.createServer((s) => {
  s.on('error', () => {});
  s.end('debug port of ' + process.env.DYNO);
});
debug.listen(Number(process.env.DEBUG_PORT), '::1');
`;

function portsOf(dataDir: string, app: string): Record<string, number> {
  const file = path.join(dataDir, 'run', `${app}.json`);
  const run = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    instances: { name: string; port: number; state: string }[];
  };
  return Object.fromEntries(
    run.instances.filter((i) => i.state === 'running').map((i) => [i.name, i.port]),
  );
}

/** Writes `data`, half-closes, and resolves with everything read until the far end ends. */
function exchange(stream: PortForwardStream, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('error', reject);
    stream.once('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.end(data);
  });
}

async function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('local platform: port forwarding', function () {
  this.timeout(20_000);
  const { make, dispose } = useLocalPlatforms();
  const dataDir = tempDataDir();
  const base = { sessionId: 'pf-test', user: 'dev@example.com' };
  let platform: LocalPlatform;
  let echoPort: number;
  let debugPort: number;
  let otherPort: number;

  before(async () => {
    const dir = writeApp(
      dataDir,
      'echo',
      `web: exec ${JSON.stringify(process.execPath)} echo.cjs\n`,
    );
    fs.writeFileSync(path.join(dir, 'echo.cjs'), ECHO_SERVER);
    writeApp(
      dataDir,
      'other',
      `web: exec ${JSON.stringify(process.execPath)} -e "require('node:net').createServer((s) => { s.on('error', () => {}); s.end('other'); }).listen(Number(process.env.PORT), '127.0.0.1')"\n`,
    );
    const admin = await createLocalPlatform(
      { dataDir, runProcesses: false, createDemoApp: false },
      { logger: silent },
    );
    debugPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    await admin.updateConfigVars('echo', { set: { DEBUG_PORT: String(debugPort) } });
    await admin.close();
    platform = await make(dataDir);
    await waitUntil(
      'both apps listening',
      async () => {
        const echo = portsOf(dataDir, 'echo')['web.1'];
        const other = portsOf(dataDir, 'other')['web.1'];
        if (!echo || !other) return false;
        const up =
          (await listening('127.0.0.1', echo)) &&
          (await listening('::1', debugPort)) &&
          (await listening('127.0.0.1', other));
        if (!up) return false;
        echoPort = echo;
        otherPort = other;
        return true;
      },
      5000,
    );
  });
  after(() => dispose(dataDir));

  it('connects to the port of a process type, with half-close both ways', async () => {
    const stream = await platform.openPortForward('echo', {
      ...base,
      target: { process: 'web' },
      port: echoPort,
    });
    assert.equal(stream.instance, 'web.1');
    assert.equal(await exchange(stream, 'hello'), 'hellobye');
  });

  it('connects to an instance by name, and to a port it listens on over IPv6 loopback', async () => {
    const stream = await platform.openPortForward('echo', {
      ...base,
      target: { pod: 'web.1' },
      port: debugPort,
    });
    assert.equal(await exchange(stream, ''), 'debug port of web.1');
  });

  it('works from a platform that does not run the apps (a bastion beside the server)', async () => {
    const reader = await createLocalPlatform(
      { dataDir, runProcesses: false, createDemoApp: false },
      { logger: silent },
    );
    try {
      const stream = await reader.openPortForward('echo', {
        ...base,
        target: { process: 'web' },
        port: echoPort,
      });
      assert.equal(await exchange(stream, 'x'), 'xbye');
    } finally {
      await reader.close();
    }
  });

  it('refuses a port another app listens on, as if nothing listened there', async () => {
    await assert.rejects(
      platform.openPortForward('echo', { ...base, target: { process: 'web' }, port: otherPort }),
      (err: unknown) =>
        err instanceof PortForwardRefused &&
        err.userMessage ===
          `connection refused by web.1:${otherPort}: nothing listens on that port`,
    );
    // ... which is really there, for its own app.
    const stream = await platform.openPortForward('other', {
      ...base,
      target: { process: 'web' },
      port: otherPort,
    });
    assert.equal(await exchange(stream, ''), 'other');
  });

  it('refuses a port nothing listens on', async () => {
    const server = net.createServer();
    const free = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
    );
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(
      platform.openPortForward('echo', { ...base, target: { process: 'web' }, port: free }),
      PortForwardRefused,
    );
  });

  it('refuses a one-off target (BadRequest), an unknown process and app (NotFound), a bad port', async () => {
    await assert.rejects(
      platform.openPortForward('echo', { ...base, target: {}, port: echoPort }),
      (err: unknown) =>
        err instanceof BadRequest && /one-off console has no ports/.test(err.userMessage),
    );
    await assert.rejects(
      platform.openPortForward('echo', { ...base, target: { process: 'worker' }, port: echoPort }),
      NotFound,
    );
    await assert.rejects(
      platform.openPortForward('nope', { ...base, target: { process: 'web' }, port: echoPort }),
      NotFound,
    );
    await assert.rejects(
      platform.openPortForward('echo', { ...base, target: { process: 'web' }, port: 70000 }),
      BadRequest,
    );
  });

  it('closes the stream when its signal aborts', async () => {
    const abort = new AbortController();
    const stream = await platform.openPortForward('echo', {
      ...base,
      target: { process: 'web' },
      port: echoPort,
      signal: abort.signal,
    });
    const closed = new Promise((resolve) => stream.once('close', resolve));
    abort.abort();
    await closed;
    assert.equal(stream.destroyed, true);
  });

  it('close() of the platform resets the forwards it opened', async () => {
    const reader = await createLocalPlatform(
      { dataDir, runProcesses: false, createDemoApp: false },
      { logger: silent },
    );
    const stream = await reader.openPortForward('echo', {
      ...base,
      target: { process: 'web' },
      port: echoPort,
    });
    const closed = new Promise((resolve) => stream.once('close', resolve));
    await reader.close();
    await closed;
    assert.equal(stream.destroyed, true);
  });
});
