/**
 * The bastion behind a load balancer that speaks PROXY protocol: the real OpenSSH client goes
 * through a small test balancer (connecting from 127.0.0.2, the trusted source) that puts a
 * header in front of the stream, and the bastion takes the header's address as the client's.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { ssh, writeSshConfig } from '../support/ssh-client.js';
import { BASTION_NAME, startHarness } from './harness.js';
import type { Harness } from './harness.js';
import { v2Header } from './proxy-protocol-header.js';

const BALANCER_ADDRESS = '127.0.0.2';
const CLIENT = '203.0.113.7';
const HEADER_TIMEOUT_MS = 400;

/** How the test balancer hands the header over. */
type Delivery = 'alone' | 'with-client-bytes' | 'byte-by-byte';

interface Balancer {
  readonly port: number;
  close(): Promise<void>;
}

async function startBalancer(
  target: number,
  header: Buffer,
  delivery: Delivery,
): Promise<Balancer> {
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({
      host: '127.0.0.1',
      port: target,
      localAddress: BALANCER_ADDRESS,
    });
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const relay = (): void => {
      client.pipe(upstream);
      upstream.pipe(client);
    };
    if (delivery === 'alone') {
      upstream.write(header);
      relay();
    } else if (delivery === 'with-client-bytes') {
      // The header and the client's banner in one write: the bastion must keep the banner.
      client.once('data', (chunk: Buffer) => {
        upstream.write(Buffer.concat([header, chunk]));
        relay();
      });
    } else {
      client.pause();
      let i = 0;
      const next = (): void => {
        if (i === header.length) return relay();
        upstream.write(header.subarray(i, ++i));
        setTimeout(next, 2);
      };
      upstream.once('connect', next);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Connects from `from`, sends `bytes`, and reports what came back before the bastion closed the
 * connection and how long that took.
 */
function probe(
  port: number,
  bytes: Buffer,
  from: string,
): Promise<{ received: Buffer; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const received: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the bastion kept the connection open'));
    }, 5000);
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.write(bytes));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(received), closedAfterMs: performance.now() - start });
    });
  });
}

describe('bastion behind a PROXY protocol load balancer', function () {
  this.timeout(30_000);
  let h: Harness;
  const logLines: Record<string, unknown>[] = [];
  const balancers: Balancer[] = [];

  before(async () => {
    h = await startHarness({
      config: () => ({
        listen: {
          host: '127.0.0.1',
          port: 0,
          proxyProtocol: {
            enabled: true,
            trustedSources: [`${BALANCER_ADDRESS}/32`],
            headerTimeoutMs: HEADER_TIMEOUT_MS,
          },
        },
      }),
      logLevel: 'info',
      logStream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) {
            logLines.push(JSON.parse(line) as Record<string, unknown>);
          }
          callback();
        },
      }),
    });
  });
  after(async () => {
    await Promise.all(balancers.map((b) => b.close()));
    await h?.close();
  });

  async function balancer(header: Buffer, delivery: Delivery): Promise<Balancer> {
    const b = await startBalancer(h.address.port, header, delivery);
    balancers.push(b);
    return b;
  }

  /** A user whose certificate carries `source-address=<sourceAddress>`, going through `port`. */
  async function userVia(port: number, sourceAddress: string): Promise<string> {
    const { key, cert } = await h.user('pp', {
      options: ['clear', 'permit-pty', `source-address=${sourceAddress}`],
    });
    return writeSshConfig(`${key.file}.ssh_config`, {
      port,
      identity: key.file,
      certificate: cert,
      knownHosts: h.knownHosts,
      bastionName: BASTION_NAME,
    });
  }

  async function metric(limit: string): Promise<number> {
    const text = await h.bastion.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.includes(`limit="${limit}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it("takes the header's address as the client's: source-address, audit", async () => {
    const b = await balancer(
      v2Header({ source: { ip: CLIENT, port: 40000 } }),
      'with-client-bytes',
    );
    const allowed = await userVia(b.port, `${CLIENT}/32`);
    const r = await ssh(allowed, ['bastion', 'echo through-the-balancer']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /through-the-balancer/);
    const start = logLines.find((l) => l.event === 'session.start' && l.ip === CLIENT);
    assert.ok(start, 'the session is audited with the address the balancer named');

    const elsewhere = await userVia(b.port, `${BALANCER_ADDRESS}/32`);
    const refused = await ssh(elsewhere, ['bastion', 'echo SHOULD-NOT-RUN']);
    assert.equal(refused.code, 255);
    assert.match(
      refused.stderr,
      new RegExp(`may not be used from ${CLIENT.replaceAll('.', '\\.')}`),
    );
  });

  it('reads a header that arrives one byte per packet', async () => {
    const b = await balancer(v2Header({ source: { ip: CLIENT, port: 40001 } }), 'byte-by-byte');
    const r = await ssh(await userVia(b.port, `${CLIENT}/32`), ['bastion', 'echo split-ok']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /split-ok/);
  });

  it('LOCAL (a health check of the balancer) keeps the socket address', async () => {
    const b = await balancer(v2Header({ command: 'local' }), 'alone');
    const r = await ssh(await userVia(b.port, `${BALANCER_ADDRESS}/32`), [
      'bastion',
      'echo local-ok',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /local-ok/);
  });

  it('refuses a header from a source it does not trust: no client picks its address', async () => {
    const before = await metric('proxy-protocol-untrusted-source');
    const spoof = Buffer.concat([
      v2Header({ source: { ip: CLIENT, port: 1 } }),
      Buffer.from('SSH-2.0-x\r\n'),
    ]);
    const r = await probe(h.address.port, spoof, '127.0.0.1');
    assert.equal(r.received.length, 0, 'not even the SSH banner is sent');
    assert.equal(await metric('proxy-protocol-untrusted-source'), before + 1);
  });

  it('refuses a trusted source that speaks SSH or garbage instead of a header', async () => {
    for (const bytes of [
      'SSH-2.0-OpenSSH_9.2\r\n',
      'GET / HTTP/1.0\r\n\r\n',
      '\r\n\r\n\0\r\nQUIT\n\x11',
    ]) {
      const r = await probe(h.address.port, Buffer.from(bytes, 'latin1'), BALANCER_ADDRESS);
      assert.equal(r.received.length, 0, JSON.stringify(bytes));
      assert.ok(
        r.closedAfterMs < HEADER_TIMEOUT_MS,
        `closed at once, not at the deadline (${bytes})`,
      );
    }
  });

  it('closes a trusted connection whose header does not come in time', async () => {
    const before = await metric('proxy-header-timeout');
    const r = await probe(h.address.port, v2Header().subarray(0, 10), BALANCER_ADDRESS);
    assert.equal(r.received.length, 0);
    assert.ok(r.closedAfterMs >= HEADER_TIMEOUT_MS - 50, `${r.closedAfterMs}`);
    assert.equal(await metric('proxy-header-timeout'), before + 1);
  });
});
