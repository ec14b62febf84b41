/**
 * The cluster API client against a server that closes an idle kept-alive connection just as the
 * next request goes out: the request is sent again on a new connection, once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeClient, Unavailable } from '@neetodeploy/platform';

const OK =
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';

/** Answers the first request on each connection; `onSecond` decides what a second one gets. */
async function startServer(onSecond: (socket: net.Socket) => void) {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    let requests = 0;
    socket.on('error', () => undefined);
    socket.on('data', (data) => {
      if (!data.includes('\r\n\r\n')) return;
      requests += 1;
      if (requests === 1) socket.write(OK);
      else onSecond(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { server, kc, connections: () => connections };
}

describe('kubernetes client: kept-alive connections', () => {
  it('sends a request again when its reused connection was reset unanswered', async () => {
    const { server, kc, connections } = await startServer((socket) => socket.resetAndDestroy());
    const client = createKubeClient(kc, 5000);
    try {
      assert.deepEqual(await client.request('GET', '/a'), { ok: true });
      assert.deepEqual(await client.request('PUT', '/b', { body: { x: 1 } }), { ok: true });
      assert.equal(connections(), 2);
    } finally {
      client.close();
      server.close();
    }
  });

  it('does not retry a reset on a new connection, and says the API is unreachable', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.resetAndDestroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    let connections = 0;
    server.on('connection', () => (connections += 1));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const client = createKubeClient(kc, 5000);
    try {
      await assert.rejects(client.request('GET', '/a'), (err: unknown) => {
        assert.ok(err instanceof Unavailable, String(err));
        assert.match((err as Error).message, /unreachable/);
        return true;
      });
      assert.equal(connections, 1);
    } finally {
      client.close();
      server.close();
    }
  });
});
