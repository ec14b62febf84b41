/**
 * The ssh2 patch's packet pool (issue 18): outbound packet buffers for bulk data are reused,
 * but only once the stream that carried one has called back for it. A stream that holds chunks
 * (a slow socket, a jump channel whose window is shut) must never see one change under it: that
 * would corrupt the connection, or send one packet's bytes in place of another's. Also the
 * window fix found on the way: held stdout and stderr writes both go on when the window opens.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Socket, type AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { ClientChannel, Connection } from 'ssh2';
import { connectSsh2, execServer } from '../support/ssh2-connect.js';

interface PacketSink {
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
}
interface PacketPool {
  readonly CAPACITY: number;
  takePacket(len: number): Buffer;
  /** `stream`: anything with Writable's `write(chunk, callback)`. */
  writePacket(stream: PacketSink, data: Buffer, returns: unknown): unknown;
  freeCount(): number;
}
const pool = createRequire(import.meta.url)('ssh2/lib/protocol/packet-pool.js') as PacketPool;

const hostKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
  type: 'pkcs1',
  format: 'pem',
}) as string;

type WriteCallback = (err?: Error | null) => void;

/** Takes writes and keeps each one's callback (if any) until the test calls it. */
class HeldWrites {
  readonly callbacks: (WriteCallback | undefined)[] = [];
  write(_chunk: Buffer, cb?: WriteCallback): boolean {
    this.callbacks.push(cb);
    return true;
  }
}

/** A plain net.Socket, the kind the pool trusts, whose writes are held as {@link HeldWrites}'s. */
function heldSocket(): { socket: Socket; callbacks: (WriteCallback | undefined)[] } {
  const socket = new Socket();
  const held = new HeldWrites();
  socket.write = held.write.bind(held) as typeof socket.write;
  return { socket, callbacks: held.callbacks };
}

interface WriteWatch {
  /** Writes made with a callback: the pooled packets. */
  pooled: number;
  /** Of those, the ones whose bytes changed between the write and its callback. */
  changed: number;
}

/** Checks that each pooled packet written to `stream` is unchanged when its callback comes. */
function watchWrites(stream: { write: (...a: never[]) => boolean }): WriteWatch {
  const watch = { pooled: 0, changed: 0 };
  const write = (stream.write as (c: Buffer, cb?: WriteCallback) => boolean).bind(stream);
  stream.write = (chunk: Buffer, cb?: WriteCallback) => {
    if (typeof cb !== 'function') return write(chunk);
    watch.pooled++;
    const asWritten = Buffer.from(chunk);
    return write(chunk, (err) => {
      if (!chunk.equals(asWritten)) watch.changed++;
      cb(err);
    });
  };
  return watch;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Pauses `stream` for 25 ms of every 50 until stopped, so that its peer's window shuts. */
function stutter(stream: { pause(): unknown; resume(): unknown }): () => void {
  let paused = false;
  const t = setInterval(() => {
    paused = !paused;
    if (paused) stream.pause();
    else stream.resume();
  }, 25);
  return () => {
    clearInterval(t);
    stream.resume();
  };
}

describe('ssh2 patch: pooled packet buffers', function () {
  this.timeout(60_000);
  const BIG = 20_000;

  it('keeps a packet out of the pool until its socket calls back, and reuses it after', function () {
    const { socket, callbacks } = heldSocket();
    const packet = pool.takePacket(BIG);
    const free = pool.freeCount();
    pool.writePacket(socket, packet, undefined);
    assert.equal(callbacks.length, 1);
    assert.equal(pool.freeCount(), free, 'not back while the socket holds it');
    callbacks[0]!();
    assert.equal(pool.freeCount(), free + 1, 'back once the socket called back');
    assert.equal(pool.takePacket(30_000).buffer, packet.buffer, 'the next packet reuses it');
  });

  it('gives nothing back from a socket once one of its writes failed', function () {
    const { socket, callbacks } = heldSocket();
    let returns: unknown;
    const packets = [1, 2, 3].map(() => pool.takePacket(BIG));
    for (const p of packets) returns = pool.writePacket(socket, p, returns);
    const free = pool.freeCount();
    callbacks[0]!(new Error('EPIPE'));
    // A destroyed stream calls its buffered writes back out of step; none may be trusted.
    callbacks[1]!();
    callbacks[2]!();
    assert.equal(pool.freeCount(), free);
  });

  it('leaves small, oversized and foreign buffers alone', function () {
    const { socket, callbacks } = heldSocket();
    const buffers = [
      pool.takePacket(8_000),
      pool.takePacket(pool.CAPACITY + 1),
      Buffer.allocUnsafe(BIG),
      pool.takePacket(BIG).subarray(16),
    ];
    // After the takes: the last one may come off the free list earlier tests filled.
    const free = pool.freeCount();
    for (const b of buffers) pool.writePacket(socket, b, undefined);
    assert.deepEqual(callbacks, [undefined, undefined, undefined, undefined]);
    assert.equal(pool.freeCount(), free);
  });

  it('never reuses a packet written to a stream that may call back before letting go', function () {
    // Duplex.from, or a PassThrough piped on, calls back once it has only buffered a chunk.
    const stream = new HeldWrites();
    pool.writePacket(stream, pool.takePacket(BIG), undefined);
    assert.deepEqual(stream.callbacks, [undefined], 'written without a callback');
  });

  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'] as const) {
    it(`carries every byte both ways through a jump whose windows keep shutting (${cipher})`, async function () {
      const down = randomBytes(8 * 1024 * 1024);
      const up = randomBytes(4 * 1024 * 1024);
      const watches: Record<string, WriteWatch> = {};
      let upHash = '';
      const inner = execServer([hostKey], (ch) => {
        const got: Buffer[] = [];
        ch.on('data', (d: Buffer) => got.push(d));
        ch.on('end', () => {
          upHash = sha(Buffer.concat(got));
          // 64 KiB at a time, as a console's pipe is read.
          for (let p = 0; p < down.length; p += 65_536) ch.write(down.subarray(p, p + 65_536));
          ch.exit(0);
          ch.end();
        });
      });
      const outer = new ssh2.Server({ hostKeys: [hostKey] }, (conn: Connection) => {
        conn.on('error', () => undefined);
        watches.serverSocket = watchWrites((conn as unknown as { _sock: Socket })._sock);
        conn.on('authentication', (ctx) => ctx.accept());
        conn.on('tcpip', (accept) => {
          const hop = accept();
          watches.serverChannel = watchWrites(hop);
          stopServerSide = stutter(hop);
          inner.injectSocket(hop as never);
        });
      });
      let stopServerSide = () => undefined as void;
      await new Promise<void>((r) => outer.listen(0, '127.0.0.1', r));
      const algorithms = { cipher: [cipher] };
      const carrier = await connectSsh2((outer.address() as AddressInfo).port, {
        username: 'u',
        password: 'p',
        algorithms,
      });
      watches.clientSocket = watchWrites((carrier as unknown as { _sock: Socket })._sock);
      const client = new ssh2.Client();
      try {
        const hop = await new Promise<ClientChannel>((resolve, reject) =>
          carrier.forwardOut('127.0.0.1', 0, 'inner', 22, (e, ch) => (e ? reject(e) : resolve(ch))),
        );
        watches.clientChannel = watchWrites(hop);
        const stopClientSide = stutter(hop);
        await new Promise<void>((resolve, reject) => {
          client.on('error', reject);
          client
            .once('ready', resolve)
            .connect({ sock: hop, username: 'u', password: 'p', algorithms });
        });
        const ch = await new Promise<ClientChannel>((resolve, reject) =>
          client.exec('x', (e, s) => (e ? reject(e) : resolve(s))),
        );
        const got: Buffer[] = [];
        ch.on('data', (d: Buffer) => got.push(d));
        for (let p = 0; p < up.length; p += 65_536) ch.write(up.subarray(p, p + 65_536));
        ch.end();
        // A packet reused too soon fails a MAC check or garbles a length the peer then waits on:
        // stop at the first changed packet rather than at the timeout.
        const changed = () => Object.values(watches).some((w) => w.changed > 0);
        const watch = setInterval(() => changed() && ch.destroy(), 20);
        await new Promise((resolve) => {
          ch.once('close', resolve);
          client.on('error', resolve);
          carrier.on('error', resolve);
        }).finally(() => {
          clearInterval(watch);
          stopClientSide();
          stopServerSide();
        });
        for (const [where, w] of Object.entries(watches)) {
          assert.equal(w.changed, 0, `${where}: a packet changed before its callback`);
        }
        assert.equal(upHash, sha(up), 'client to server intact');
        assert.equal(sha(Buffer.concat(got)), sha(down), 'server to client intact');
        for (const [where, w] of Object.entries(watches)) {
          assert.ok(w.pooled > 20, `${where}: ${w.pooled} pooled packets`);
        }
      } finally {
        client.end();
        carrier.end();
        outer.close();
      }
    });
  }

  it('lets both stdout and stderr go on when the window opens, neither sent twice', async function () {
    // ssh2 retried only stdout's held write, and kept it after it was sent: stderr waited for a
    // stall that never came, or a later stall sent the old stdout chunk again.
    const out = randomBytes(3 * 1024 * 1024);
    const err = randomBytes(3 * 1024 * 1024);
    const server = execServer([hostKey], (ch) => {
      // Both in one tick: stdout fills the 2 MiB window, and stderr waits behind it.
      let left = 2;
      const done = () => {
        if (--left > 0) return;
        ch.exit(0);
        ch.end();
      };
      ch.write(out, done);
      ch.stderr.write(err, done);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = await connectSsh2((server.address() as AddressInfo).port, {
      username: 'u',
      password: 'p',
    });
    try {
      const ch = await new Promise<ClientChannel>((resolve, reject) =>
        client.exec('x', (e, s) => (e ? reject(e) : resolve(s))),
      );
      const gotOut: Buffer[] = [];
      const gotErr: Buffer[] = [];
      ch.on('data', (d: Buffer) => gotOut.push(d));
      ch.stderr.on('data', (d: Buffer) => gotErr.push(d));
      const closed = new Promise((r) => ch.once('close', r));
      const stalled = new Promise((r) => setTimeout(r, 10_000, 'stalled'));
      assert.notEqual(await Promise.race([closed, stalled]), 'stalled', 'the channel closed');
      assert.equal(sha(Buffer.concat(gotOut)), sha(out), 'stdout intact');
      assert.equal(sha(Buffer.concat(gotErr)), sha(err), 'stderr intact');
    } finally {
      client.end();
      server.close();
    }
  });
});
