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
  onBytes: (n: number) => void,
): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    let waiting = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      src.off('data', onData);
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
      onBytes(chunk.length);
      if (dst.destroyed || !dst.writable) return;
      dst.write(chunk);
      if (!waiting && blocker()) {
        waiting = true;
        src.pause();
        waitThenResume();
      }
    }

    src.on('data', onData);
    src.once('end', finish);
    src.once('error', finish);
    src.once('close', finish);
    void closed.then(finish);
  });
}

/** Client env names allowed through; a trailing `*` matches a prefix. */
export function envAllowed(name: string, allow: readonly string[]): boolean {
  return allow.some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : name === a));
}
