/**
 * The stored form of a recording's events: binary frames, each the bytes as they passed plus a
 * 13-byte header, written into reused chunk buffers. Asciicast text is made only when a
 * recording is read (./render.ts): encoding every byte as JSON while the session ran cost more
 * CPU than the session itself.
 *
 * A frame, little-endian: `code` (1 byte, an ASCII event code, or `h` for the asciicast header
 * line), `interval` (float64, seconds since the previous frame, rounded to microseconds),
 * `length` (uint32), then `length` bytes: raw stream bytes for `i`/`o`/`e`, UTF-8 text for the
 * others.
 */

export const FRAME_HEADER_BYTES = 13;
/** The frame holding the asciicast header line (chunk 0's first frame). */
export const HEADER_CODE = 'h';

export interface Frame {
  readonly code: string;
  readonly interval: number;
  readonly data: Buffer;
}

/** The frames of a chunk's body; stops at the first frame that does not fit (see {@link framesComplete}). */
export function* readFrames(body: Buffer): Generator<Frame> {
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= body.length) {
    const length = body.readUInt32LE(at + 9);
    const end = at + FRAME_HEADER_BYTES + length;
    if (end > body.length) return;
    yield {
      code: String.fromCharCode(body[at]!),
      interval: body.readDoubleLE(at + 1),
      data: body.subarray(at + FRAME_HEADER_BYTES, end),
    };
    at = end;
  }
}

/** Whether `body` is a whole number of frames (a chunk cut short is not). */
export function framesComplete(body: Buffer): boolean {
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= body.length) {
    at += FRAME_HEADER_BYTES + body.readUInt32LE(at + 9);
  }
  return at === body.length;
}

/**
 * Full-size chunk buffers, shared by every recorder of a thread and bounded: a busy recording
 * writes into memory already mapped (fresh pages cost more here than the copy into them), and
 * an idle one holds none.
 */
export class ChunkBufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Bytes of each pooled buffer. */
    readonly bufferBytes: number,
    /** Kept at most: 8 MiB of them, and never fewer than two. */
    private readonly maxBuffers = Math.max(2, Math.floor((8 << 20) / bufferBytes)),
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** Gives back the buffer under `chunk` if it is one of ours and there is room for it. */
  release(chunk: Buffer): void {
    const whole = chunk.buffer;
    if (whole.byteLength !== this.bufferBytes || chunk.byteOffset !== 0) return;
    if (this.free.length < this.maxBuffers) this.free.push(Buffer.from(whole));
  }
}

const pools = new Map<number, ChunkBufferPool>();

/** This thread's pool for chunks of `chunkBytes` (one frame may run past the cut). */
export function chunkBufferPool(chunkBytes: number): ChunkBufferPool {
  const bufferBytes = chunkBytes + 64 * 1024;
  let pool = pools.get(bufferBytes);
  if (!pool) pools.set(bufferBytes, (pool = new ChunkBufferPool(bufferBytes)));
  return pool;
}

/** Small chunks (an interactive session's keystrokes) start in a buffer this size. */
const FIRST_BYTES = 4096;

/** One chunk being written: its metadata line, then frames. */
export class ChunkBuilder {
  private buf: Buffer | undefined;
  private used = 0;

  constructor(private readonly pool: ChunkBufferPool) {}

  /** Bytes written so far (metadata line included). */
  get length(): number {
    return this.used;
  }

  /** Writes `text` as is (the chunk's metadata line). */
  raw(text: string): void {
    const n = Buffer.byteLength(text, 'utf8');
    this.reserve(n);
    this.used += this.buf!.write(text, this.used, 'utf8');
  }

  frame(code: string, interval: number, data: Buffer): void {
    this.header(code, interval, data.length);
    data.copy(this.buf!, this.used);
    this.used += data.length;
  }

  text(code: string, interval: number, text: string): void {
    const n = Buffer.byteLength(text, 'utf8');
    this.header(code, interval, n);
    this.used += this.buf!.write(text, this.used, 'utf8');
  }

  /**
   * The chunk's bytes; the builder starts empty again. Give them to the pool once stored. A
   * chunk that fills little of a pooled buffer (one cut by the flush timer) is copied out and the
   * buffer given back at once: a queued chunk then holds at most four times its own size, so the
   * spool's byte bound also bounds memory.
   */
  take(): Buffer {
    const buf = this.buf;
    const used = this.used;
    this.buf = undefined;
    this.used = 0;
    if (!buf) return Buffer.alloc(0);
    if (used >= buf.length / 4) return buf.subarray(0, used);
    const out = Buffer.allocUnsafeSlow(used);
    buf.copy(out, 0, 0, used);
    this.pool.release(buf);
    return out;
  }

  private header(code: string, interval: number, length: number): void {
    this.reserve(FRAME_HEADER_BYTES + length);
    const b = this.buf!;
    b[this.used] = code.charCodeAt(0);
    b.writeDoubleLE(interval, this.used + 1);
    b.writeUInt32LE(length, this.used + 9);
    this.used += FRAME_HEADER_BYTES;
  }

  private reserve(n: number): void {
    const need = this.used + n;
    if (this.buf && need <= this.buf.length) return;
    const next =
      need <= FIRST_BYTES && !this.buf
        ? Buffer.allocUnsafeSlow(FIRST_BYTES)
        : need <= this.pool.bufferBytes
          ? this.pool.take()
          : Buffer.allocUnsafeSlow(need * 2);
    if (this.buf) {
      this.buf.copy(next, 0, 0, this.used);
      this.pool.release(this.buf);
    }
    this.buf = next;
  }
}
