/**
 * The ssh2 patch's packet pool (issue 18): outbound packet buffers for bulk data are reused,
 * but only once the stream that carried one has called back for it. A stream that holds chunks
 * (a slow socket, a jump channel whose window is shut) must never see one change under it: that
 * would corrupt the connection, or send one packet's bytes in place of another's.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, Connection, ServerChannel } from 'ssh2';

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

/**
 * One side of an in-memory link that holds what is written to it for a few milliseconds, as a
 * socket with a full send buffer does, then checks each chunk is as it was when written before
 * delivering a copy (the kernel's) to its peer and calling back.
 */
class SlowLink extends Duplex {
  peer!: SlowLink;
  changed = 0;
  mostHeld = 0;
  private holding = 0;
  /** Each chunk as it was handed to write(): the stream buffers it before _write sees it. */
  private readonly asWritten = new Map<Buffer, Buffer>();

  override write(chunk: Buffer, ...rest: never[]): boolean {
    this.asWritten.set(chunk, Buffer.from(chunk));
    return super.write(chunk, ...rest);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.hold([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: () => void): void {
    this.hold(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _final(cb: () => void): void {
    setTimeout(() => {
      this.peer.push(null);
      cb();
    }, 5);
  }

  private hold(chunks: Buffer[], cb: () => void): void {
    const copies = chunks.map((c) => this.asWritten.get(c) ?? Buffer.from(c));
    for (const c of chunks) this.asWritten.delete(c);
    this.holding += chunks.length;
    this.mostHeld = Math.max(this.mostHeld, this.holding);
    setTimeout(() => {
      chunks.forEach((c, i) => {
        if (!c.equals(copies[i]!)) this.changed++;
        this.peer.push(copies[i]);
      });
      this.holding -= chunks.length;
      cb();
    }, 2);
  }
}

function linkPair(): [SlowLink, SlowLink] {
  const a = new SlowLink();
  const b = new SlowLink();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

describe('ssh2 patch: pooled packet buffers', function () {
  this.timeout(60_000);

  it('keeps a packet out of the pool until its stream calls back, and reuses it after', function () {
    const stream = new HeldWrites();
    const packet = pool.takePacket(20_000);
    const free = pool.freeCount();
    pool.writePacket(stream, packet, undefined);
    assert.equal(stream.callbacks.length, 1);
    assert.equal(pool.freeCount(), free, 'not back while the stream holds it');
    stream.callbacks[0]!();
    assert.equal(pool.freeCount(), free + 1, 'back once the stream called back');
    assert.equal(pool.takePacket(30_000).buffer, packet.buffer, 'the next packet reuses it');
  });

  it('gives nothing back from a stream once one of its writes failed', function () {
    const stream = new HeldWrites();
    let returns: unknown;
    const packets = [1, 2, 3].map(() => pool.takePacket(10_000));
    for (const p of packets) returns = pool.writePacket(stream, p, returns);
    const free = pool.freeCount();
    stream.callbacks[0]!(new Error('EPIPE'));
    // A destroyed stream calls its buffered writes back out of step; none may be trusted.
    stream.callbacks[1]!();
    stream.callbacks[2]!();
    assert.equal(pool.freeCount(), free);
  });

  it('leaves small, oversized and foreign buffers alone', function () {
    const stream = new HeldWrites();
    const free = pool.freeCount();
    for (const b of [
      pool.takePacket(512),
      pool.takePacket(pool.CAPACITY + 1),
      Buffer.allocUnsafe(20_000),
      pool.takePacket(20_000).subarray(16),
    ]) {
      pool.writePacket(stream, b, undefined);
    }
    assert.deepEqual(stream.callbacks, [undefined, undefined, undefined, undefined]);
    assert.equal(pool.freeCount(), free);
  });

  it('sends every byte intact through a link that holds packets while more are made', async function () {
    const [serverSide, clientSide] = linkPair();
    const payload = randomBytes(4 * 1024 * 1024);
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (conn: Connection) => {
      conn.on('error', () => undefined);
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('session', (accept) =>
        accept().on('exec', (acceptExec) => {
          const ch: ServerChannel = acceptExec();
          // 64 KiB at a time, as a console's pipe is read.
          for (let p = 0; p < payload.length; p += 65_536)
            ch.write(payload.subarray(p, p + 65_536));
          ch.exit(0);
          ch.end();
        }),
      );
    });
    server.injectSocket(serverSide as never);
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      client.once('ready', resolve).connect({
        sock: clientSide,
        username: 'u',
        password: 'p',
        algorithms: { cipher: ['aes128-gcm@openssh.com'] },
      });
    });
    try {
      const ch = await new Promise<ClientChannel>((resolve, reject) =>
        client.exec('x', (err, s) => (err ? reject(err) : resolve(s))),
      );
      const hash = createHash('sha256');
      let bytes = 0;
      ch.on('data', (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
      });
      // A packet reused too soon fails the client's MAC check or garbles a length the client
      // then waits on: fail at the first changed packet rather than at the timeout.
      const watch = setInterval(() => serverSide.changed && ch.destroy(), 20);
      await new Promise((resolve) => {
        ch.once('close', resolve);
        client.on('error', resolve);
      }).finally(() => clearInterval(watch));
      assert.equal(serverSide.changed, 0, 'no held packet changed before its callback');
      assert.equal(bytes, payload.length);
      assert.equal(
        hash.digest('hex'),
        createHash('sha256').update(payload).digest('hex'),
        'the bytes arrived in order',
      );
      assert.ok(serverSide.mostHeld > 8, `${serverSide.mostHeld} packets held at once`);
      assert.ok(pool.freeCount() > 0, 'the pool was used');
    } finally {
      client.end();
      server.close();
    }
  });
});
