/**
 * Port forwarding on the kubernetes platform, through the platform API against the fake API
 * server's `pods/portforward` websocket, which dials a real 127.0.0.1 listener mapped to the
 * fake pod's port: HTTP through a forward, many at once, backpressure, refusals, targets that
 * must not be reachable, and the chart's RBAC with port forwarding off and on.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import {
  AccessDenied,
  AppError,
  BadRequest,
  NotFound,
  PortForwardRefused,
  createKubernetesPlatform,
  type KubernetesPlatform,
  type PortForwardOptions,
  type PortForwardStream,
} from '@neetodeploy/platform';
import { chartRbacYaml, DEFAULT_NAMESPACE, serviceAccountNames } from '../support/chart.js';
import {
  serviceAccountUsername,
  startFakeApiServer,
  type FakeApiServer,
} from '../support/fake-apiserver/index.js';
import { within } from '../support/platform-conformance.js';
import {
  app,
  appPod,
  deployment,
  platformConfig,
  silent,
  startShop,
} from './kubernetes-harness.js';
import { waitUntil } from '../support/wait.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

const WEB_PORT = 8080;

const forward = (extra: Partial<PortForwardOptions> = {}): PortForwardOptions => ({
  target: { process: 'web' },
  port: WEB_PORT,
  sessionId: `s-${randomBytes(4).toString('hex')}`,
  user: 'dev@example.com',
  ...extra,
});

/** A real HTTP server on 127.0.0.1: echoes the path, and the sha256 of a POST body. */
async function startWebServer(): Promise<{
  server: http.Server;
  port: number;
  connections: () => number;
}> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${req.method} ${req.url} ${hash.digest('hex')}`);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** An HTTP request made by node's own client over a forwarded connection. */
function httpOver(
  stream: PortForwardStream,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method,
        path,
        host: 'localhost',
        createConnection: () => stream,
        headers: body ? { 'content-length': body.length } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function rejectsWith(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => AppError,
  message: RegExp,
) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.match(err.userMessage, message);
    return true;
  });
}

describe('kubernetes platform: port forwarding', function () {
  this.timeout(30_000);
  let fake: FakeApiServer;
  let platform: KubernetesPlatform;
  let webPod: string;
  let web: Awaited<ReturnType<typeof startWebServer>>;

  before(async () => {
    ({ fake, platform, webPod } = await startShop());
    web = await startWebServer();
    fake.setPodPort(app, webPod, WEB_PORT, web.port);
  });

  after(async () => {
    await platform?.close();
    await fake?.stop();
    web?.server.closeAllConnections();
    await new Promise((r) => web?.server.close(r));
  });

  afterEach(async () => {
    await waitUntil('forwards closed', () => fake.activePortForwards() === 0, 10_000, 20);
  });

  it('carries an HTTP exchange to the port inside the web pod, named by process or pod', async () => {
    for (const target of [{ process: 'web' }, { pod: webPod }, { pod: 'web.a1b2c' }]) {
      const options = forward({ target });
      const stream = await platform.openPortForward(app, options);
      assert.equal(stream.instance, webPod);
      const res = await httpOver(stream, 'GET', `/admin?t=${options.sessionId}`);
      assert.equal(res.status, 200);
      assert.match(res.text, new RegExp(`^GET /admin\\?t=${options.sessionId} `));
      stream.destroy();
    }
  });

  it('names the session and the user in the user agent the cluster audits', async () => {
    const options = forward();
    const stream = await platform.openPortForward(app, options);
    stream.destroy();
    const seen = fake.requests.filter((r) => r.path.endsWith(`/pods/${webPod}/portforward`));
    const mine = seen.filter((r) => r.userAgent?.includes(options.sessionId));
    assert.equal(mine.length, 1, JSON.stringify(seen.map((r) => r.userAgent)));
    assert.equal(
      mine[0]!.userAgent,
      `neetodeploy-access (session ${options.sessionId}; user dev@example.com)`,
    );
    assert.equal(mine[0]!.status, 101);
    assert.equal(mine[0]!.query, `?ports=${WEB_PORT}`);
  });

  it('serves 20 connections at once, each its own TCP connection with its own bytes', async () => {
    const before = web.connections();
    const bodies = Array.from({ length: 20 }, () => randomBytes(256 * 1024));
    const results = await within(
      20_000,
      Promise.all(
        bodies.map(async (body, i) => {
          const stream = await platform.openPortForward(app, forward());
          const res = await httpOver(stream, 'POST', `/upload/${i}`, body);
          stream.destroy();
          return res.text;
        }),
      ),
      '20 concurrent forwards',
    );
    results.forEach((text, i) => {
      assert.equal(
        text,
        `POST /upload/${i} ${createHash('sha256').update(bodies[i]!).digest('hex')}`,
      );
    });
    assert.equal(web.connections() - before, 20);
  });

  it('holds back a port that sends faster than the reader reads (backpressure to the pod)', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let blockedAt: number | undefined;
    const source = net.createServer((socket) => {
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!socket.write(chunk)) {
            blockedAt ??= written;
            socket.once('drain', pump);
            return;
          }
        }
        socket.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
    fake.setPodPort(app, webPod, 9000, (source.address() as AddressInfo).port);
    try {
      const stream = await platform.openPortForward(app, forward({ port: 9000 }));
      // Nobody reads for a while: the pod's writes must stall long before the 64 MiB are out.
      await new Promise((r) => setTimeout(r, 700));
      const stalledAt = written;
      assert.ok(blockedAt !== undefined, 'the pod side never saw backpressure');
      assert.ok(stalledAt < 32 * 1024 * 1024, `the pod wrote ${stalledAt} bytes into nobody`);
      let received = 0;
      for await (const chunk of stream) received += (chunk as Buffer).length;
      assert.equal(received, total);
    } finally {
      source.close();
      fake.setPodPort(app, webPod, 9000, undefined);
    }
  });

  it('keeps reading after our side ended its writes (what the pod sends later still arrives)', async () => {
    const late = net.createServer((socket) => {
      socket.once('data', () => setTimeout(() => socket.end('late answer'), 200));
    });
    await new Promise<void>((resolve) => late.listen(0, '127.0.0.1', resolve));
    fake.setPodPort(app, webPod, 9001, (late.address() as AddressInfo).port);
    try {
      const stream = await platform.openPortForward(app, forward({ port: 9001 }));
      stream.end('question');
      let text = '';
      for await (const chunk of stream) text += (chunk as Buffer).toString();
      assert.equal(text, 'late answer');
    } finally {
      late.close();
      fake.setPodPort(app, webPod, 9001, undefined);
    }
  });

  it("speaks the framing @kubernetes/client-node's own PortForward reads (an independent client)", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(fake.kubeconfigPath());
    const pf = new PortForward(kc);
    const collect = () => {
      const stream = new PassThrough();
      const seen = { text: '' };
      stream.on('data', (d: Buffer) => (seen.text += d.toString()));
      return { stream, seen };
    };
    const out = collect();
    const input = new PassThrough();
    const ws = await pf.portForward(app, webPod, [WEB_PORT], out.stream, null, input);
    input.write('GET /client-node HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await waitUntil(
      'the answer',
      () => /GET \/client-node [0-9a-f]{64}$/.test(out.seen.text),
      10_000,
      20,
    );
    assert.match(out.seen.text, /^HTTP\/1\.1 200 OK\r\n/);
    const errors = collect();
    const refused = await pf.portForward(
      app,
      webPod,
      [9999],
      new PassThrough(),
      errors.stream,
      new PassThrough(),
    );
    await waitUntil('the refusal', () => /connection refused/.test(errors.seen.text), 10_000, 20);
    assert.match(errors.seen.text, /^error forwarding port 9999 to pod [0-9a-f]{64}, uid : /);
    for (const socket of [ws, refused]) (socket as { close(): void }).close();
  });

  it('refuses a port nothing listens on, saying so', async () => {
    await rejectsWith(
      platform.openPortForward(app, forward({ port: 9999 })),
      PortForwardRefused,
      /nothing listens on port 9999 in web\.a1b2c/,
    );
    // A port whose listener went away is refused the same way.
    const gone = net.createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    fake.setPodPort(app, webPod, 9002, port);
    await rejectsWith(
      platform.openPortForward(app, forward({ port: 9002 })),
      PortForwardRefused,
      /nothing listens on port 9002/,
    );
  });

  it('refuses an unknown app, pod or process, an invalid port, and a one-off target', async () => {
    await rejectsWith(platform.openPortForward('nosuch', forward()), NotFound, /nosuch/);
    await rejectsWith(
      platform.openPortForward(app, forward({ target: { pod: 'shop-web-5d8f7-zzzzz' } })),
      NotFound,
      /no running process shop-web-5d8f7-zzzzz/,
    );
    await rejectsWith(
      platform.openPortForward(app, forward({ target: { process: 'worker' } })),
      NotFound,
      /no running process worker/,
    );
    for (const port of [0, 65536, 1.5, -1]) {
      await rejectsWith(
        platform.openPortForward(app, forward({ port })),
        BadRequest,
        /not a TCP port/,
      );
    }
    await assert.rejects(platform.openPortForward(app, forward({ target: {} })), (err: unknown) => {
      assert.ok(err instanceof BadRequest);
      assert.equal(err.code, 'port_forward_needs_target');
      assert.match(err.userMessage, /one-off console has no ports/);
      return true;
    });
    assert.equal(fake.portForwards().length, 0);
  });

  it('never reaches a pod of another app, even one in the same namespace', async () => {
    const other = appPod('other', app, 'web', 'o7h3r');
    fake.create(other);
    const otherName = other.metadata!.name!;
    await waitForPodRunning(fake, app, otherName);
    fake.setPodPort(app, otherName, WEB_PORT, web.port);
    const before = web.connections();
    for (const pod of [otherName, 'web.o7h3r']) {
      await rejectsWith(
        platform.openPortForward(app, forward({ target: { pod } })),
        NotFound,
        /no running process/,
      );
    }
    assert.equal(web.connections(), before);
    assert.ok(!fake.requests.some((r) => r.path.includes(`${otherName}/portforward`)));
  });

  it('ends the forward when the pod goes away, and resets it on abort', async () => {
    const extra = appPod(app, app, 'web', 'e4x7r');
    fake.create(extra);
    const extraName = extra.metadata!.name!;
    await waitForPodRunning(fake, app, extraName);
    const idle = net.createServer(() => undefined);
    await new Promise<void>((resolve) => idle.listen(0, '127.0.0.1', resolve));
    fake.setPodPort(app, extraName, 7000, (idle.address() as AddressInfo).port);
    try {
      const stream = await platform.openPortForward(
        app,
        forward({ target: { pod: extraName }, port: 7000 }),
      );
      const ended = new Promise<void>((resolve) => stream.once('close', resolve));
      stream.resume();
      fake.delete('pods', app, extraName);
      await within(5000, ended, 'forward ended with its pod');

      const controller = new AbortController();
      const aborted = await platform.openPortForward(
        app,
        forward({ target: { pod: webPod }, signal: controller.signal }),
      );
      assert.equal(fake.activePortForwards(), 1);
      const closed = new Promise<void>((resolve) => aborted.once('close', resolve));
      controller.abort();
      await within(5000, closed, 'aborted forward closed');
      await waitUntil('fake forward closed', () => fake.activePortForwards() === 0, 10_000, 20);
    } finally {
      idle.close();
    }
  });
});

describe('kubernetes platform: port forwarding under the chart RBAC', function () {
  this.timeout(60_000);
  const NS = 'apps';

  async function bastionPlatformWith(enabled: boolean): Promise<{
    fake: FakeApiServer;
    platform: KubernetesPlatform;
    web: Awaited<ReturnType<typeof startWebServer>>;
  }> {
    const fake = await startFakeApiServer();
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEFAULT_NAMESPACE } });
    fake.loadRbacYaml(
      await chartRbacYaml({
        appNamespaces: [{ name: NS }],
        bastion: { portForwarding: { enabled } },
      }),
    );
    const sa = serviceAccountNames().bastion;
    fake.serviceAccountToken(DEFAULT_NAMESPACE, sa);
    fake.create(deployment(app, NS, 'web'));
    const pod = appPod(app, NS, 'web', 'r8a4c');
    fake.create(pod);
    const web = await startWebServer();
    fake.setPodPort(NS, pod.metadata!.name!, WEB_PORT, web.port);
    await waitForPodRunning(fake, NS, pod.metadata!.name!);
    const platform = await createKubernetesPlatform(
      platformConfig(fake, {
        kubeconfigPath: fake.kubeconfigPath(serviceAccountUsername(DEFAULT_NAMESPACE, sa), NS),
        namespaces: { mode: 'shared', namespace: NS },
      }),
      { logger: silent },
    );
    return { fake, platform, web };
  }

  for (const enabled of [false, true]) {
    it(`${enabled ? 'forwards' : 'refuses to forward'} as the bastion's ServiceAccount with bastion.portForwarding.enabled=${String(enabled)}`, async () => {
      const { fake, platform, web } = await bastionPlatformWith(enabled);
      try {
        if (!enabled) {
          await assert.rejects(platform.openPortForward(app, forward()), (err: unknown) => {
            assert.ok(err instanceof AccessDenied, String(err));
            assert.equal(err.code, 'port_forward_disabled');
            assert.match(err.userMessage, /port forwarding is not enabled on this cluster/);
            return true;
          });
          const denied = fake.requests.filter((r) => r.path.endsWith('/portforward'));
          assert.deepEqual(
            denied.map((r) => r.status),
            [403],
          );
          assert.equal(web.connections(), 0);
        } else {
          const stream = await platform.openPortForward(app, forward());
          const res = await httpOver(stream, 'GET', '/enabled');
          assert.match(res.text, /^GET \/enabled /);
          stream.destroy();
          // Closing the platform resets the forwards still open.
          const open = await platform.openPortForward(app, forward());
          const closed = new Promise<void>((resolve) => open.once('close', resolve));
          await platform.close();
          await within(5000, closed, 'forward reset by close()');
          await waitUntil('fake forward closed', () => fake.activePortForwards() === 0, 10_000, 20);
        }
      } finally {
        await platform.close();
        await fake.stop();
        web.server.closeAllConnections();
        web.server.close();
      }
    });
  }
});
