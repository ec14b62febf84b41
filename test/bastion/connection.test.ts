import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import type { Connection } from 'ssh2';
import { parseBastionConfig } from '@neetodeploy/bastion';
import { createConnectionRegistry } from '../../bastion/src/connection/index.js';
import type {
  ActiveSession,
  AuthenticationStep,
  ConnectionScope,
  Transport,
} from '../../bastion/src/connection/index.js';
import { createMetrics } from '../../bastion/src/metrics/index.js';
import type { AuthenticatedConnection, ConnectionInfo } from '../../bastion/src/types.js';

const limits = parseBastionConfig({
  hostKeys: [{ privateKeyFile: 'k' }],
  trust: { static: { userCaKeyFiles: ['ca.pub'] } },
  limits: { authTimeoutMs: 50 },
}).limits;

/** An ssh2 server-side client as far as the connection module uses it. */
class FakeClient extends EventEmitter {
  ended = 0;
  end(): void {
    this.ended++;
  }
}

function setup(authenticate: boolean, stream: Duplex = new PassThrough()) {
  const events: string[] = [];
  let scope: ConnectionScope | undefined;
  const authentication: AuthenticationStep = {
    attach(_client, pending, _logger, onAuthenticated) {
      events.push(`attach:${pending.state}`);
      if (!authenticate) return;
      const conn = { state: 'authenticated', info: pending.info } as AuthenticatedConnection;
      onAuthenticated(conn);
    },
  };
  const registry = createConnectionRegistry({
    limits,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    now: () => new Date(),
    authentication,
    channels: {
      onSession: (_accept, reject, s) => {
        scope = s;
        reject();
      },
      onDirectTcpip: (_accept, reject) => reject(),
    },
    draining: () => false,
    serve: () => undefined,
  });
  const info: ConnectionInfo = {
    id: 'c1',
    ip: '127.0.0.1',
    port: 1,
    kind: 'direct',
    transport: [stream],
    startedAt: new Date(),
  };
  let killed = 0;
  const transport: Transport = { info, stream, kill: () => killed++ };
  const connection = registry.open(transport);
  return { registry, connection, events, stream, killed: () => killed, scope: () => scope };
}

describe('bastion connection lifecycle', () => {
  it('a pending connection is killed at the authentication deadline', async () => {
    const t = setup(false);
    assert.equal(t.connection.state, 'pending');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(t.killed(), 1);
  });

  it('pending → authenticated → closing: sessions are told why, then the client is ended', async () => {
    const t = setup(true);
    const client = new FakeClient();
    t.registry.attach(client as unknown as Connection); // no transport of ours: ended at once
    assert.equal(client.ended, 1);

    t.connection.attach(client as unknown as Connection);
    assert.deepEqual(t.events, ['attach:pending']);
    assert.equal(t.connection.state, 'authenticated');
    assert.equal(t.connection.authenticated?.info.id, 'c1');
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(t.killed(), 0, 'the deadline is disarmed by authentication');

    client.emit(
      'session',
      () => assert.fail('not accepted'),
      () => undefined,
    );
    const scope = t.scope();
    assert.ok(scope);
    const told: string[] = [];
    let endSession!: () => void;
    const session: ActiveSession = {
      id: 's1',
      kind: 'console',
      notify: (m) => told.push(m),
      terminate: () => endSession(),
      close: () => undefined,
      ended: new Promise<void>((resolve) => (endSession = resolve)),
    };
    const untrack = scope.track(session);
    assert.equal(t.registry.sessions().length, 1);

    t.connection.end('revoked: bye');
    t.connection.end('again');
    assert.equal(t.connection.state, 'closing');
    assert.deepEqual(told, ['revoked: bye']);
    await session.ended;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.ended, 2);
    untrack();
    assert.equal(t.registry.sessions().length, 0);
  });

  /** A connection on a real socket, authenticated, with one session of `kind` in it. */
  async function withSession(kind: ActiveSession['kind']) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const { port } = server.address() as net.AddressInfo;
    const peer = net.connect(port, '127.0.0.1');
    const socket = await accepted;
    server.close();
    const t = setup(true, socket);
    const client = new FakeClient();
    t.connection.attach(client as unknown as Connection);
    client.emit(
      'session',
      () => undefined,
      () => undefined,
    );
    let endSession!: () => void;
    const session: ActiveSession = {
      id: 's1',
      kind,
      notify: () => undefined,
      terminate: () => endSession(),
      close: () => undefined,
      ended: new Promise<void>((resolve) => (endSession = resolve)),
    };
    t.scope()!.track(session);
    return { t, client, peer, socket, session };
  }

  it('ending a console session waits for its client to hang up before disconnecting it', async () => {
    // OpenSSH exits at a disconnect before it prints the stderr that came just before it.
    const { t, client, peer, session } = await withSession('console');
    t.connection.end('revoked: bye');
    await session.ended;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(client.ended, 0, 'no disconnect while the client may still be printing');
    peer.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(client.ended, 0, 'the client hung up: nothing left to disconnect');
  });

  it('a console client that never hangs up is disconnected after a grace', async () => {
    const { t, client, peer, session } = await withSession('console');
    t.connection.end('revoked: bye');
    await session.ended;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal(client.ended, 1);
    peer.destroy();
  });

  it('a forward-only client (ssh -N never hangs up by itself) is disconnected at once', async () => {
    const { t, client, peer, session } = await withSession('forward');
    t.connection.end('revoked: bye');
    await session.ended;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.ended, 1);
    peer.destroy();
  });
});
