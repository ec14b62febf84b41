/**
 * The ssh2 patch's corked socket (issue 18): the packets a server connection produces in one
 * tick leave in one `writev` instead of one system call each. A jump host streaming a console
 * makes two or three packets per 64 KiB read from the console's pipe; each loopback write also
 * pays for the receiver's TCP processing. Data must still arrive whole and in order.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { connectSsh2, execServer } from '../support/ssh2-connect.js';

const hostKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs1',
  format: 'pem',
}) as string;

interface SocketCalls {
  write: number;
  writev: number;
  buffersInWritev: number;
}

/** Counts the calls the stream machinery makes into the socket's own write functions. */
function countCalls(socket: Socket): SocketCalls {
  const calls = { write: 0, writev: 0, buffersInWritev: 0 };
  const s = socket as unknown as {
    _write: (...a: unknown[]) => void;
    _writev: (chunks: unknown[], cb: unknown) => void;
  };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...a) => {
    calls.write++;
    write(...a);
  };
  s._writev = (chunks, cb) => {
    calls.writev++;
    calls.buffersInWritev += chunks.length;
    writev(chunks, cb);
  };
  return calls;
}

const BURST = 4;
const CHUNK = 30_000;

describe('ssh2 patch: a server connection corks its socket for the tick', function () {
  this.timeout(30_000);
  let server: ssh2.Server;
  let port: number;
  let duringBurst: SocketCalls | undefined;
  let sent = '';

  before(async function () {
    server = execServer([hostKey], (ch, conn) => {
      const calls = countCalls((conn as unknown as { _sock: Socket })._sock);
      const hash = createHash('sha256');
      const at = { ...calls };
      // One tick's burst: several packets, as a console's 64 KiB read makes.
      for (let i = 0; i < BURST; i++) {
        const chunk = Buffer.alloc(CHUNK, i + 1);
        hash.update(chunk);
        ch.write(chunk);
      }
      sent = hash.digest('hex');
      setImmediate(() => {
        duringBurst = {
          write: calls.write - at.write,
          writev: calls.writev - at.writev,
          buffersInWritev: calls.buffersInWritev - at.buffersInWritev,
        };
        ch.exit(0);
        ch.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('sends the packets of one tick in one writev, and the data arrives whole', async function () {
    const client = await connectSsh2(port, { username: 'u', password: 'p' });
    try {
      const ch = await new Promise<ClientChannel>((resolve, reject) =>
        client.exec('burst', (err, s) => (err ? reject(err) : resolve(s))),
      );
      const hash = createHash('sha256');
      let bytes = 0;
      ch.on('data', (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
      });
      await new Promise((r) => ch.once('close', r));
      assert.equal(bytes, BURST * CHUNK);
      assert.equal(hash.digest('hex'), sent, 'the bytes arrived in order');
      assert.ok(duringBurst, 'the burst was counted');
      // Before the patch: one socket write per packet (BURST or more), no writev.
      assert.equal(duringBurst.write, 0, `${duringBurst.write} single writes during the burst`);
      assert.equal(duringBurst.writev, 1);
      assert.ok(duringBurst.buffersInWritev >= BURST, `${duringBurst.buffersInWritev} buffers`);
    } finally {
      client.end();
    }
  });
});
