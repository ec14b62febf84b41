/**
 * A console's stdin into its terminal, with backpressure: one chunk in flight at most, and
 * nothing written once the terminal closed.
 *
 * This is the one place that reads node-pty's private fields (`fd`, `_socket`,
 * `_writeStream._writeQueue`): node-pty offers no public way to learn when a write reached the
 * kernel, nor to stop its queue from retrying after the terminal closed. Each read is checked,
 * and without them writes go through node-pty's public `write()`.
 */
import fs from 'node:fs';
import { Writable } from 'node:stream';
import type { IPty } from 'node-pty';

/** Ctrl-D: what end-of-input means on a terminal in canonical mode. */
const PTY_EOF = '\x04';

/**
 * Writes to the terminal's descriptor directly, synchronously and non-blocking, instead of
 * through node-pty's asynchronous queue: that queue keeps retrying after the terminal closed,
 * and a write in flight on a closed (and possibly reused) descriptor could land in another
 * file or socket. Undefined when node-pty's internals differ from what this expects.
 */
function directPtyWriter(term: IPty): { fd: number; isClosed: () => boolean } | undefined {
  const internals = term as unknown as { fd?: unknown; _socket?: { destroyed?: unknown } };
  const fd = internals.fd;
  const socket = internals._socket;
  if (typeof fd !== 'number' || !socket || typeof socket.destroyed !== 'boolean') return undefined;
  try {
    const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    // A blocking descriptor would stall the whole server when a process stops reading.
    if (!flags?.[1] || (Number.parseInt(flags[1], 8) & fs.constants.O_NONBLOCK) === 0) {
      return undefined;
    }
  } catch {
    return undefined;
  }
  return { fd, isClosed: () => socket.destroyed === true };
}

/** node-pty's write queue, to apply backpressure to stdin; absent in other versions. */
function ptyWriteQueue(term: IPty): unknown[] | undefined {
  const queue = (term as unknown as { _writeStream?: { _writeQueue?: unknown } })._writeStream
    ?._writeQueue;
  return Array.isArray(queue) ? queue : undefined;
}

/** Calls back once node-pty has handed everything written so far to the kernel. */
function waitForPtyDrain(term: IPty, isClosed: () => boolean, callback: () => void) {
  let delay = 1;
  const check = () => {
    const queue = ptyWriteQueue(term);
    if (isClosed() || !queue || queue.length === 0) {
      callback();
      return;
    }
    delay = Math.min(delay * 2, 50);
    setTimeout(check, delay);
  };
  check();
}

/** The stdin of a terminal console; `isClosed` says when the terminal is gone. */
export function ptyStdin(term: IPty, isClosed: () => boolean): Writable {
  const direct = directPtyWriter(term);
  let retry: NodeJS.Timeout | undefined;
  /** Hands `chunk` to the terminal, then calls back: one chunk in flight at most. */
  const writeToPty = (chunk: Buffer, callback: () => void) => {
    if (!direct) {
      if (!isClosed()) term.write(chunk);
      waitForPtyDrain(term, isClosed, callback);
      return;
    }
    let offset = 0;
    let delay = 1;
    const attempt = () => {
      retry = undefined;
      while (offset < chunk.length) {
        // Checked right before each write, on the thread that closes the descriptor.
        if (isClosed() || direct.isClosed()) break;
        try {
          offset += fs.writeSync(direct.fd, chunk, offset, chunk.length - offset);
          delay = 1;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') break;
          // The process is not reading its input: wait instead of queueing more.
          retry = setTimeout(attempt, delay);
          retry.unref();
          delay = Math.min(delay * 2, 50);
          return;
        }
      }
      callback();
    };
    attempt();
  };

  const stdin = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      writeToPty(chunk, callback);
    },
    final(callback) {
      writeToPty(Buffer.from(PTY_EOF), callback);
    },
    destroy(err, callback) {
      if (retry) clearTimeout(retry);
      retry = undefined;
      callback(err);
    },
  });
  stdin.on('error', () => undefined);
  return stdin;
}
