/**
 * Bytes both ways between an accepted `direct-tcpip` channel and the target's stream, as a TCP
 * relay must: backpressure in each direction (the client's SSH window and the transport toward
 * the client one way, the target's socket the other), and half-close: an EOF from either side is
 * passed on only after every byte before it, and the channel is closed once both sides are done
 * or either one breaks.
 */
import net from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import type { ServerChannel } from 'ssh2';
import { pump } from '../session/index.js';

export interface SpliceResult {
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Why it ended early (a reset, the connection lost); undefined for a clean close. */
  readonly error?: string;
}

export interface Splice {
  /** Resolves once, when the channel and the stream are both closed. */
  readonly done: Promise<SpliceResult>;
  /** Ends it now (connection ending, revocation, drain): reset toward both sides. */
  readonly abort: (why: string) => void;
}

export interface SpliceOptions {
  /** The byte streams toward the client (the connection's transport), for backpressure. */
  readonly transport: readonly Writable[];
  /** Called per chunk: `in` from the client, `out` toward it. */
  readonly onBytes: (direction: 'in' | 'out', n: number) => void;
}

/** Resolves once everything written to `dst` so far went out (ssh2 holds writes while the window is shut). */
function flushed(dst: Writable, closed: Promise<void>): Promise<void> {
  if (dst.writableLength === 0 || dst.destroyed) return Promise.resolve();
  return Promise.race([
    new Promise<void>((resolve) => dst.write(Buffer.alloc(0), () => resolve())),
    closed,
  ]);
}

/** Corks a TCP socket until the next tick, once per tick; a no-op for other streams. */
function corker(stream: Writable | undefined): () => void {
  if (!(stream instanceof net.Socket)) return () => undefined;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    stream.uncork();
  };
  return () => {
    if (corked || stream.destroyed) return;
    corked = true;
    stream.cork();
    process.nextTick(uncork);
  };
}

export function splice(channel: ServerChannel, stream: Duplex, options: SpliceOptions): Splice {
  let bytesIn = 0;
  let bytesOut = 0;
  let error: string | undefined;
  let clientEof = false;
  let targetEof = false;
  let channelClosed = false;
  let streamClosed = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let resolveDone!: (r: SpliceResult) => void;
  const done = new Promise<SpliceResult>((resolve) => (resolveDone = resolve));

  const settle = (): void => {
    if (channelClosed && streamClosed)
      resolveDone({ bytesIn, bytesOut, ...(error ? { error } : {}) });
  };
  const abort = (why: string): void => {
    error ??= why;
    resolveClosed();
    stream.destroy();
    channel.close();
  };

  let eofSent = false;
  // Closed once our EOF went out and the client's came in (or the target can take no more).
  const closeWhenDone = (): void => {
    if (eofSent && (clientEof || streamClosed)) channel.close();
  };
  channel.on('error', () => undefined);
  stream.on('error', (err: Error) => (error ??= err.message));
  channel.once('end', () => {
    clientEof = true;
    stream.end();
    closeWhenDone();
  });
  stream.once('end', () => {
    targetEof = true;
    // EOF after the last byte, never before it; the channel stays open for the client's bytes.
    void flushed(channel, closed).then(() => {
      channel.eof();
      eofSent = true;
      closeWhenDone();
    });
  });
  channel.once('close', () => {
    channelClosed = true;
    resolveClosed();
    // Closed before both EOFs: abrupt, so the target is reset too.
    if (!clientEof || !targetEof) stream.destroy();
    settle();
  });
  stream.once('close', () => {
    streamClosed = true;
    if (!targetEof) abort(error ?? 'the target reset the connection');
    else closeWhenDone();
    settle();
  });
  // Each SSH packet is a socket write. Corked until the next tick, the packets of one chunk
  // from the target (toward the client), or of one read from the client (toward a target
  // socket), leave in one writev: the system calls are the bastion's hottest path.
  const toTarget = corker(stream);
  const toClient = corker(options.transport.at(-1));
  void pump(channel, stream, [], closed, (n) => {
    bytesIn += n;
    options.onBytes('in', n);
    toTarget();
  });
  void pump(stream, channel, options.transport, closed, (n) => {
    bytesOut += n;
    options.onBytes('out', n);
    toClient();
  });
  return { done, abort };
}
