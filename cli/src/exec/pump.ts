/**
 * Connects a session channel to the terminal or pipes until the session ends, and turns how it
 * ended into an exit code. Every byte the server sent is written out before we resolve: the
 * channel's `close` only waits for stdout to be consumed, so stderr is awaited on its own
 * (a slow stderr reader once lost all but the first 64 KiB), and both local streams are
 * flushed, since `process.exit` drops what a pipe has not taken yet.
 */
import type { Writable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { Deps } from '../deps.js';
import { CONNECTION_LOST, exitCodeOf } from './exit-code.js';
import type { OpenSession } from './open-channel.js';
import { sendSignal } from './ssh2-internals.js';

export interface PumpOptions {
  readonly usePty: boolean;
  /** Why the connection broke, if it did (set by the caller's connection error handler). */
  readonly connectionError: () => Error | undefined;
}

/** Resolves once `stream` has handed everything written so far to the OS (or cannot). */
function flushed(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * Pipes `from` into `to`; if `to` breaks (EPIPE: `| head -1`) the rest is read and dropped so
 * the channel keeps flowing, and `onBroken` runs once.
 */
function copyOut(from: NodeJS.ReadableStream, to: Writable, onBroken: () => void): void {
  from.pipe(to, { end: false });
  to.on('error', () => {
    from.unpipe(to);
    from.on('data', () => undefined);
    from.resume();
    onBroken();
  });
}

function ended(stream: NodeJS.ReadableStream & { readableEnded?: boolean }): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

export async function pumpSession(
  session: OpenSession,
  options: PumpOptions,
  deps: Deps,
): Promise<number> {
  const { io } = deps;
  const { channel } = session;
  const { usePty } = options;
  let interrupts = 0;
  let interrupted = false;
  const offResize = usePty
    ? io.onResize(() => {
        const s = io.terminalSize();
        if (s) channel.setWindow(s.rows, s.cols, 0, 0);
      })
    : () => undefined;
  // On a raw terminal Ctrl-C reaches the remote as a byte; otherwise as a signal, also after our
  // stdin hit EOF. A second Ctrl-C gives up on a console that ignores it.
  const offInterrupt = io.onInterrupt(() => {
    interrupts += 1;
    if (interrupts === 1) sendSignal(channel, 'INT');
    else {
      interrupted = true;
      channel.close();
    }
  });
  const stopStdin = forwardStdin(channel, deps);
  if (usePty) io.setRawMode(true);
  try {
    // Our stdout closed: the remote command gets SIGPIPE, as it would writing to a closed pipe.
    copyOut(channel, io.stdout, () => sendSignal(channel, 'PIPE'));
    copyOut(channel.stderr, io.stderr, () => undefined);
    await Promise.all([
      new Promise<void>((resolve) => channel.once('close', () => resolve())),
      ended(channel.stderr),
    ]);
  } finally {
    offResize();
    offInterrupt();
    stopStdin();
    if (usePty) io.setRawMode(false);
  }
  await Promise.all([flushed(io.stdout), flushed(io.stderr)]);
  return exitFor(session, interrupted, options, deps);
}

function exitFor(
  session: OpenSession,
  interrupted: boolean,
  options: PumpOptions,
  deps: Deps,
): number {
  const exit = session.exit();
  if (exit) return exitCodeOf(exit);
  if (interrupted) return 130;
  const why = options.connectionError();
  const reason = why
    ? `the connection to the bastion was lost (${why.message})`
    : 'the console session ended without an exit status (the connection or the bastion went away)';
  // One line, and 255 like ssh: a script can tell this from any code the command returns.
  deps.io.stderr.write(`neetodeploy: ${reason}\n`);
  return CONNECTION_LOST;
}

/** Streams stdin into the channel with backpressure and sends EOF at its end. */
function forwardStdin(channel: ClientChannel, deps: Deps): () => void {
  const { stdin } = deps.io;
  const onData = (chunk: Buffer): void => {
    if (!channel.write(chunk)) {
      stdin.pause();
      channel.once('drain', () => stdin.resume());
    }
  };
  const onEnd = (): void => {
    channel.end();
  };
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
  };
}
