/**
 * The ssh2 patch's shared server handlers (issue 18): a server connection no longer builds its
 * own thirty-odd message-handler, keepalive and socket closures; one set serves every
 * connection and finds its connection through the protocol or socket it is called with. What
 * must hold: the memory goes, and per-connection state (a pending keyboard-interactive login,
 * failed attempts, keepalive counts) stays with its own connection.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import ssh2 from 'ssh2';
import type { AuthContext, ClientChannel, Connection, ServerConfig } from 'ssh2';
import { connectSsh2 } from '../support/ssh2-connect.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const hostKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs1',
  format: 'pem',
}) as string;

type OnConnection = (conn: Connection) => void;

function startServer(
  onConnection: OnConnection,
  extra: Partial<ServerConfig> = {},
): Promise<{ server: ssh2.Server; port: number }> {
  const server = new ssh2.Server({ hostKeys: [hostKey], ...extra }, (conn) => {
    conn.on('error', () => undefined);
    onConnection(conn);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    ),
  );
}

async function run(client: ssh2.Client, command: string): Promise<string> {
  const ch = await new Promise<ClientChannel>((resolve, reject) =>
    client.exec(command, (err, s) => (err ? reject(err) : resolve(s))),
  );
  let out = '';
  ch.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => ch.once('close', r));
  return out;
}

/** Answers `exec` with the user the connection logged in as. */
function whoami(conn: Connection, user: () => string): void {
  conn.on('session', (accept) =>
    accept().on('exec', (acceptExec) => {
      const ch = acceptExec();
      ch.end(user());
      ch.exit(0);
    }),
  );
}

const internals = (conn: Connection) =>
  (conn as unknown as { _protocol: { _handlers: Record<string, unknown> } })._protocol;

describe('ssh2 patch: server connections share their handlers', function () {
  this.timeout(60_000);

  it('holds one set of message handlers for every connection, and less heap per connection', async function () {
    const conns: Connection[] = [];
    const { server, port } = await startServer((conn) => {
      conns.push(conn);
      conn.on('authentication', (ctx) => ctx.accept());
    });
    const clients: ssh2.Client[] = [];
    try {
      // One connection first: lazily loaded code is not per connection.
      clients.push(await connectSsh2(port, { username: 'u', password: 'p' }));
      await new Promise((r) => setTimeout(r, 100));
      gc();
      gc();
      const before = process.memoryUsage().heapUsed;
      const PAIRS = 100;
      for (let i = 0; i < PAIRS; i++)
        clients.push(await connectSsh2(port, { username: 'u', password: 'p' }));
      await new Promise((r) => setTimeout(r, 100));
      gc();
      gc();
      const perPair = (process.memoryUsage().heapUsed - before) / PAIRS;
      // ~24,000 bytes per idle client + server pair in this test before (Node 20), ~21,800 after.
      assert.ok(
        perPair < 23_000,
        `${perPair.toFixed(0)} bytes of heap per idle client + server pair`,
      );
      const [a, b] = [internals(conns[0]!), internals(conns[1]!)];
      assert.equal(a._handlers, b._handlers, 'two connections share one handler table');
      assert.ok(
        Object.isFrozen(a._handlers),
        "one connection could change every connection's handlers",
      );
    } finally {
      for (const c of clients) c.end();
      server.close();
    }
  });

  it('keeps a pending keyboard-interactive login and failed attempts with their own connection', async function () {
    let releaseAlice!: () => void;
    const aliceMayAnswer = new Promise<void>((r) => (releaseAlice = r));
    const attempts = new Map<string, number>();
    const { server, port } = await startServer((conn) => {
      let user = '';
      conn.on('authentication', (ctx: AuthContext) => {
        attempts.set(ctx.username, (attempts.get(ctx.username) ?? 0) + 1);
        if (ctx.method === 'keyboard-interactive') {
          ctx.prompt([{ prompt: 'code: ', echo: false }], (answers) => {
            if (answers[0] !== 'alice-code') return ctx.reject();
            user = ctx.username;
            ctx.accept();
          });
        } else if (ctx.method === 'password' && ctx.password === 'bob-password') {
          user = ctx.username;
          ctx.accept();
        } else ctx.reject(['password', 'keyboard-interactive']);
      });
      whoami(conn, () => user);
    });
    const aliceClient = new Promise<ssh2.Client>((resolve) => {
      // The prompt is answered only once bob is in: alice's login is pending meanwhile.
      const c = new ssh2.Client();
      c.on('error', () => undefined);
      c.on(
        'keyboard-interactive',
        (_n, _i, _l, _p, finish) => void aliceMayAnswer.then(() => finish(['alice-code'])),
      );
      c.once('ready', () => resolve(c)).connect({
        host: '127.0.0.1',
        port,
        username: 'alice',
        tryKeyboard: true,
        authHandler: ['keyboard-interactive'],
      });
    });
    try {
      const tries: ssh2.PasswordAuthMethod[] = ['wrong', 'bob-password'].map((password) => ({
        type: 'password',
        username: 'bob',
        password,
      }));
      const bob = await connectSsh2(port, { username: 'bob', authHandler: tries });
      assert.equal(await run(bob, 'whoami'), 'bob');
      assert.equal(attempts.get('bob'), 2);
      bob.end();
      releaseAlice();
      const alice = await aliceClient;
      assert.equal(await run(alice, 'whoami'), 'alice');
      alice.end();
    } finally {
      releaseAlice();
      server.close();
    }
  });

  it('counts keepalives per connection: a silent client is dropped, a live one kept', async function () {
    const ended: string[] = [];
    const { server, port } = await startServer(
      (conn) => {
        let user = '';
        conn.on('authentication', (ctx) => {
          user = ctx.username;
          ctx.accept();
        });
        conn.on('error', (err: Error & { level?: string }) => {
          if (err.level === 'client-timeout') ended.push(user);
        });
        whoami(conn, () => user);
      },
      { keepaliveInterval: 100, keepaliveCountMax: 2 },
    );
    const silent = await connectSsh2(port, { username: 'silent', password: 'p' });
    const live = await connectSsh2(port, { username: 'live', password: 'p' });
    silent.on('error', () => undefined);
    try {
      // The silent client stops reading, so it never answers the server's keepalives.
      (silent as unknown as { _sock: { pause(): void } })._sock.pause();
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(ended, ['silent']);
      assert.equal(await run(live, 'whoami'), 'live');
    } finally {
      silent.end();
      live.end();
      server.close();
    }
  });
});
