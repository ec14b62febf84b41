import type { Readable, Writable } from 'node:stream';

/** The source's way back to its pump, so that one set of listeners serves every pump. */
const PUMP = Symbol('neetodeploy.pump');
type PumpedSource = Readable & { [PUMP]?: Pump };

function onSourceData(this: PumpedSource, chunk: Buffer): void {
  this[PUMP]?.data(chunk);
}

function onSourceDone(this: PumpedSource): void {
  this[PUMP]?.finish();
}

/** One direction of a session's copy loop: a class, not closures, as two are held per session. */
class Pump {
  private done = false;
  private waiting = false;

  constructor(
    private readonly src: PumpedSource,
    private readonly dst: Writable,
    private readonly transport: readonly Writable[],
    private readonly onBytes: (n: number, chunk: Buffer) => void,
    private readonly resolve: () => void,
  ) {}

  data(chunk: Buffer): void {
    this.onBytes(chunk.length, chunk);
    const { dst } = this;
    if (dst.destroyed || !dst.writable) return;
    dst.write(chunk);
    if (!this.waiting && this.blocker()) {
      this.waiting = true;
      this.src.pause();
      this.waitThenResume();
    }
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    const { src } = this;
    // `on`, not `once`, below: finish is idempotent and removes them, and each `once` costs a
    // wrapper and a bound function for as long as the session is held.
    src.off('data', onSourceData);
    src.off('end', onSourceDone);
    src.off('error', onSourceDone);
    src.off('close', onSourceDone);
    src[PUMP] = undefined;
    this.resolve();
  }

  /** What refuses more now: `dst` (SSH window shut) or a stream of the transport toward the client. */
  private blocker(): Writable | undefined {
    if (this.dst.writableNeedDrain) return this.dst;
    for (const t of this.transport) if (t.writableNeedDrain && !t.destroyed) return t;
    return undefined;
  }

  private waitThenResume(): void {
    const b = this.blocker();
    if (!b || this.done) {
      this.waiting = false;
      if (!this.done) this.src.resume();
      return;
    }
    b.once('drain', () => this.waitThenResume());
  }
}

/**
 * Copies `src` into `dst` without unbounded buffering: the source is paused whenever `dst`
 * refuses more (SSH window exhausted) or any stream of the transport toward the client needs
 * a drain (the client stops reading TCP while its SSH window is still open). Resolves when
 * `src` ends or errors, or when `closed` resolves.
 */
export function pump(
  src: Readable,
  dst: Writable,
  transport: readonly Writable[],
  closed: Promise<void>,
  onBytes: (n: number, chunk: Buffer) => void,
): Promise<void> {
  // One pump per source: a second would take over its listeners' way back and see each chunk twice.
  if ((src as PumpedSource)[PUMP]) throw new Error('pump: this stream is already being copied');
  return new Promise((resolve) => {
    const p = new Pump(src, dst, transport, onBytes, resolve);
    (src as PumpedSource)[PUMP] = p;
    src.on('data', onSourceData);
    src.on('end', onSourceDone);
    src.on('error', onSourceDone);
    src.on('close', onSourceDone);
    void closed.then(() => p.finish());
  });
}

/**
 * Resolves once everything written to `dst` so far went out on the wire (ssh2 holds writes back
 * while the client's window is shut), or when `closed` resolves. The exit status must follow
 * the last byte: ssh2 sends exit-status at once, and ending the channel drops whatever its
 * stderr stream still holds, which cut a slow reader's stderr short.
 */
export function drained(dst: Writable, closed: Promise<void>): Promise<void> {
  if (dst.writableLength === 0 || dst.destroyed || dst.writableEnded) return Promise.resolve();
  // A zero-length write completes after every write queued before it.
  const flushed = new Promise<void>((resolve) => dst.write(Buffer.alloc(0), () => resolve()));
  return Promise.race([flushed, closed]);
}

/** Client env names allowed through; a trailing `*` matches a prefix. */
export function envAllowed(name: string, allow: readonly string[]): boolean {
  return allow.some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : name === a));
}
