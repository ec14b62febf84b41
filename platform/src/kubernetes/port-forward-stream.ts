/**
 * One forwarded TCP connection over a `pods/portforward` websocket (`v4.channel.k8s.io`, one
 * port): data on channel 0, errors on channel 1, the first frame of each channel starting with
 * the port as a little-endian uint16. The kubelet dials the port when the socket opens and
 * says nothing when that worked; a refusal arrives as text on channel 1, then the socket closes.
 *
 * The protocol has no half-close toward the pod: `end()` finishes our writes, and the
 * connection stays open until the pod's side ends it (the kubelet then closes the socket).
 */
import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { AppError, PortForwardRefused, Unavailable } from '../errors.js';
import type { PortForwardStream } from '../types.js';

const DATA = 0;
const ERROR = 1;
/** Writes are framed in pieces of at most this, so one big write cannot hold the socket. */
const FRAME = 32 * 1024;
const READ_HIGH_WATER = 64 * 1024;

export interface ForwardSocketOptions {
  readonly port: number;
  /** Who serves it, for the stream's `instance` (the pod name). */
  readonly instance: string;
  /** How users call it, for messages (`web.x7k2p`). */
  readonly name: string;
  /** How long after the port frames a silent kubelet counts as "connected". */
  readonly refusalWaitMs: number;
  /** Give up when the port frames have not come by then. */
  readonly openTimeoutMs: number;
}

/** What the kubelet's error text means for the user: nothing listens, or the link broke. */
export function forwardError(text: string, port: number, instance: string): AppError {
  if (/connection refused/i.test(text)) {
    return new PortForwardRefused(
      `nothing listens on port ${port} in ${instance} (connection refused); check the port your process serves on`,
      { message: `port-forward to ${instance}:${port} refused: ${text}` },
    );
  }
  return new Unavailable(`the connection to port ${port} in ${instance} failed; try again`, {
    message: `port-forward to ${instance}:${port} failed: ${text}`,
  });
}

/**
 * Wraps an open port-forward websocket. Resolves with the stream once the kubelet reported no
 * refusal in time (or the port spoke first); rejects with what the kubelet reported otherwise.
 */
export function forwardStream(
  ws: WebSocket,
  options: ForwardSocketOptions,
): Promise<PortForwardStream> {
  const prefixPending = [true, true];
  let errorText = '';
  let settle: ((ok: boolean) => void) | undefined;
  const settled = new Promise<boolean>((resolve) => {
    settle = (ok) => {
      settle = undefined;
      resolve(ok);
    };
  });
  let waitTimer: NodeJS.Timeout | undefined;
  const openTimer = setTimeout(() => settle?.(false), options.openTimeoutMs);

  const stream = new Duplex({
    readableHighWaterMark: READ_HIGH_WATER,
    writableHighWaterMark: READ_HIGH_WATER,
    // Like a TCP socket whose peer closed: once the pod's side ended, so do our writes.
    allowHalfOpen: false,
    read() {
      // Runs before the reader took its data out: look once it has.
      process.nextTick(() => {
        if (ws.isPaused && stream.readableLength < stream.readableHighWaterMark) ws.resume();
      });
    },
    write(chunk: Buffer, _encoding, callback) {
      let offset = 0;
      const next = (err?: Error) => {
        if (err || ws.readyState !== ws.OPEN) {
          // The connection is gone: what is left has nowhere to go, as on a closed socket.
          callback();
          return;
        }
        if (offset >= chunk.length) {
          callback();
          return;
        }
        const piece = chunk.subarray(offset, offset + FRAME);
        offset += piece.length;
        ws.send(Buffer.concat([Buffer.from([DATA]), piece]), next);
      };
      next();
    },
    final(callback) {
      // No half-close exists in this protocol; the pod's side ends the connection.
      callback();
    },
    destroy(err, callback) {
      clearTimeout(openTimer);
      clearTimeout(waitTimer);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
      callback(err);
    },
  }) as Duplex & { instance: string };
  Object.defineProperty(stream, 'instance', { value: options.instance, enumerable: true });

  ws.on('message', (data: Buffer) => {
    if (data.length === 0) return;
    const channel = data[0]!;
    if (channel !== DATA && channel !== ERROR) return;
    let payload = data.subarray(1);
    if (prefixPending[channel]) {
      prefixPending[channel] = false;
      payload = payload.subarray(2);
      if (!prefixPending[DATA] && !prefixPending[ERROR] && settle) {
        waitTimer = setTimeout(() => settle?.(true), options.refusalWaitMs);
      }
    }
    if (payload.length === 0) return;
    if (channel === ERROR) {
      errorText += payload.toString('utf8');
      settle?.(false);
      return;
    }
    // The port spoke first: it surely listens.
    settle?.(true);
    if (!stream.destroyed && !stream.push(payload)) ws.pause();
  });
  ws.on('error', () => undefined);
  ws.once('close', () => {
    settle?.(false);
    clearTimeout(openTimer);
    clearTimeout(waitTimer);
    if (stream.destroyed) return;
    if (errorText) stream.destroy(forwardError(errorText, options.port, options.name));
    else stream.push(null);
  });

  return settled.then((ok) => {
    clearTimeout(openTimer);
    clearTimeout(waitTimer);
    if (ok) return stream;
    const err = errorText
      ? forwardError(errorText, options.port, options.name)
      : prefixPending.some(Boolean)
        ? new Unavailable(`port-forward to ${options.name} did not start in time; try again`)
        : undefined;
    if (!err) return stream; // it opened and the pod's side already closed: an empty stream
    stream.destroy();
    throw err;
  });
}
