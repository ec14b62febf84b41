import type { Readable, Writable } from 'node:stream';

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
  return new Promise((resolve) => {
    let done = false;
    let waiting = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      src.off('data', onData);
      src.off('end', finish);
      src.off('error', finish);
      src.off('close', finish);
      resolve();
    };

    const blocker = (): Writable | undefined => {
      if (dst.writableNeedDrain) return dst;
      return transport.find((t) => t.writableNeedDrain && !t.destroyed);
    };

    const waitThenResume = (): void => {
      const b = blocker();
      if (!b || done) {
        waiting = false;
        if (!done) src.resume();
        return;
      }
      b.once('drain', waitThenResume);
    };

    function onData(chunk: Buffer): void {
      onBytes(chunk.length, chunk);
      if (dst.destroyed || !dst.writable) return;
      dst.write(chunk);
      if (!waiting && blocker()) {
        waiting = true;
        src.pause();
        waitThenResume();
      }
    }

    src.on('data', onData);
    // `on`, not `once`: finish is idempotent and removes them, and each `once` costs a wrapper
    // and a bound function for as long as the session is held.
    src.on('end', finish);
    src.on('error', finish);
    src.on('close', finish);
    void closed.then(finish);
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
