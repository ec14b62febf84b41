/**
 * The ssh2 patch's memory hunks (issue 18): once its handshake is over, a connection keeps no
 * ephemeral key material and no slice of Buffer's shared 8 KiB pool. Before the patch each
 * in-process client + server pair pinned ~16 kB of pool slabs (idents, the AES-GCM tag, the
 * ChaCha20 MAC buffers, the hybrid KEM reply and the kex closure holding the shared secret);
 * with 10,000 jump sessions (two server connections each) that was 300 MB of a bastion.
 * Re-keying must still work: the patch drops the finished key exchange's state.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import ssh2 from 'ssh2';
import type { ClientChannel, Connection, ServerChannel } from 'ssh2';
import { connectSsh2 } from '../support/ssh2-connect.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PAIRS = 40;
/** Per client + server pair; before the patch: ~16,500 bytes for both ciphers. */
const MAX_POOL_BYTES_PER_PAIR = 4096;

const hostKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs1',
  format: 'pem',
}) as string;

function startServer(
  cipher: string,
): Promise<{ server: ssh2.Server; port: number; accepted: Connection[] }> {
  const accepted: Connection[] = [];
  const server = new ssh2.Server(
    { hostKeys: [hostKey], algorithms: { cipher: [cipher as ssh2.CipherAlgorithm] } },
    (conn) => {
      accepted.push(conn);
      conn.on('error', () => undefined);
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          // An echo service: what the client writes comes back.
          const ch: ServerChannel = acceptExec();
          ch.on('data', (d: Buffer) => ch.write(d));
          ch.on('end', () => {
            ch.exit(0);
            ch.end();
          });
        });
      });
    },
  );
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, accepted }),
    ),
  );
}

function connect(port: number, cipher: string, kex?: string): Promise<ssh2.Client> {
  return connectSsh2(port, {
    username: 'u',
    password: 'p',
    algorithms: {
      cipher: [cipher as ssh2.CipherAlgorithm],
      ...(kex ? { kex: [kex as ssh2.KexAlgorithm] } : {}),
    },
  });
}

async function echo(client: ssh2.Client, text: string): Promise<string> {
  const ch = await new Promise<ClientChannel>((resolve, reject) =>
    client.exec('echo', (err, s) => (err ? reject(err) : resolve(s))),
  );
  let out = '';
  ch.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise((r) => ch.once('close', r));
  ch.end(text);
  await closed;
  return out;
}

const settle = () => new Promise((r) => setTimeout(r, 100));

for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
  for (const kex of ['curve25519-sha256', 'sntrup761x25519-sha512']) {
    describe(`ssh2 patch: memory of an idle connection (${cipher}, ${kex})`, function () {
      this.timeout(60_000);
      let srv: Awaited<ReturnType<typeof startServer>>;
      const clients: ssh2.Client[] = [];

      before(async function () {
        srv = await startServer(cipher);
      });
      after(function () {
        for (const c of clients) c.end();
        srv.server.close();
      });

      it('pins no shared Buffer pool memory once the handshake is over', async function () {
        // One connection first: lazily loaded code and the server's offer are not per pair.
        clients.push(await connect(srv.port, cipher, kex));
        await settle();
        gc();
        gc();
        const before = process.memoryUsage().arrayBuffers;
        for (let i = 0; i < PAIRS; i++) clients.push(await connect(srv.port, cipher, kex));
        await settle();
        gc();
        gc();
        const perPair = (process.memoryUsage().arrayBuffers - before) / PAIRS;
        assert.ok(
          perPair < MAX_POOL_BYTES_PER_PAIR,
          `${perPair.toFixed(0)} bytes of ArrayBuffers per idle client + server pair`,
        );
      });

      it('still re-keys, twice, and carries data after each', async function () {
        // Only the server side has a public rekey(); two in a row run the dropped state twice.
        const client = clients[0]!;
        const server = srv.accepted[0]!;
        assert.equal(await echo(client, 'before'), 'before');
        for (const round of ['first', 'second']) {
          const clientSaw = new Promise((r) => client.once('handshake', r));
          await new Promise<void>((resolve, reject) =>
            // ssh2 passes an error when re-keying cannot start; its types omit it.
            server.rekey((...args: unknown[]) =>
              args[0] instanceof Error ? reject(args[0]) : resolve(),
            ),
          );
          await clientSaw;
          assert.equal(await echo(client, `after ${round} rekey`), `after ${round} rekey`);
        }
      });
    });
  }
}
