/**
 * A console over the `pods/exec` websocket (channel protocol v5, or v4 as a fallback): channel
 * 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 resize, 255 close (v5 only).
 *
 * Kubernetes exec has no signal channel and does not end a process whose connection dropped
 * (without a terminal), so signals and kills are delivered by the caller's hooks (a second
 * exec, or deleting a one-off pod); see platform.ts.
 */
import os from 'node:os';
import { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { AccessDenied, BadRequest, NotFound, Unavailable } from '../errors.js';
import type { Console, ExitStatus, PtyRequest } from '../types.js';
import { KubeApiError, type KubeClient, type KubeStatus } from './client.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
const CLOSE = 255;
/** Ctrl-D: end of input on a terminal in canonical mode. */
const PTY_EOF = Buffer.from([0x04]);
const MAX_DIMENSION = 10_000;
/** Stdin is framed in pieces of at most this, so one big write cannot starve other channels. */
const STDIN_FRAME = 32 * 1024;
const READ_HIGH_WATER = 64 * 1024;

const SIGNAL_NUMBERS = os.constants.signals as Readonly<Record<string, number>>;

/** SSH signal names a console accepts (RFC 4254 plus the usual extras). */
export const SIGNAL_NAMES = new Set(
  Object.keys(SIGNAL_NUMBERS)
    .filter((s) => SIGNAL_NUMBERS[s]! < 32)
    .map((s) => s.replace(/^SIG/, '')),
);

/** `term` → `TERM`; BadRequest for unknown names. */
export function checkSignalName(name: string): string {
  const upper = String(name).toUpperCase().replace(/^SIG/, '');
  if (!SIGNAL_NAMES.has(upper)) throw new BadRequest(`unknown signal ${JSON.stringify(name)}`);
  return upper;
}

/**
 * The exit status from the Status on channel 3. A process killed by signal N is reported by
 * the container runtime as exit code 128+N; like a shell's `$?`, codes 129..159 naming a known
 * signal are reported as that signal (so `exit 143` reads as TERM: Kubernetes cannot tell).
 */
export function exitStatusOf(status: KubeStatus): { exit: ExitStatus; message?: string } {
  if (status.status === 'Success') return { exit: { code: 0 } };
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number.parseInt(cause?.message ?? '', 10);
    if (Number.isInteger(code) && code >= 0 && code <= 255) {
      if (code > 128 && code < 160) {
        const name = Object.entries(SIGNAL_NUMBERS).find(([, n]) => n === code - 128)?.[0];
        if (name) return { exit: { signal: name.replace(/^SIG/, '') } };
      }
      return { exit: { code } };
    }
  }
  const message = status.message ?? 'the command could not be run';
  return { exit: { code: /not found|no such file/i.test(message) ? 127 : 1 }, message };
}

export interface ExecRequest {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly argv: readonly string[];
  readonly pty?: PtyRequest | undefined;
  readonly logger: Logger;
  /** What the user is told when the upgrade is refused, by status code. */
  readonly describe: string;
}

export interface ExecHooks {
  /** Delivers a (checked) signal name to the console's processes. */
  signal(name: string): Promise<void>;
  /** The client is gone: end the processes; resolves when they are. */
  kill(): Promise<void>;
}

export interface ExecConsole extends Console {
  /** Called once by the owner with what signal()/kill() do. */
  setHooks(hooks: ExecHooks): void;
  readonly protocol: string;
}

function validSize(cols: number, rows: number): boolean {
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n <= MAX_DIMENSION;
  return ok(cols) && ok(rows);
}

/** Maps a refused exec upgrade to what the user sees. */
function refusal(err: unknown, describe: string): unknown {
  if (!(err instanceof KubeApiError)) return err;
  const detail = err.status?.message ?? '';
  if (err.code === 403) {
    return new AccessDenied(
      `${describe}: the platform is not allowed to open a console there (exec refused by the cluster)`,
      { cause: err, message: err.message },
    );
  }
  if (err.code === 404) {
    return new NotFound(`${describe}: the pod is gone`, { cause: err, message: err.message });
  }
  if (err.code === 400) {
    return new Unavailable(`${describe}: the cluster refused the console (${detail})`, {
      cause: err,
      message: err.message,
    });
  }
  return new Unavailable(`${describe}: the console could not be opened`, {
    cause: err,
    message: err.message,
  });
}

export async function startExec(request: ExecRequest): Promise<ExecConsole> {
  const tty = request.pty !== undefined;
  let ws: WebSocket;
  try {
    ws = await request.client.websocket(
      `/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods/${encodeURIComponent(request.pod)}/exec`,
      {
        container: request.container,
        command: request.argv,
        stdin: true,
        stdout: true,
        stderr: !tty,
        tty,
      },
      EXEC_PROTOCOLS,
    );
  } catch (err) {
    throw refusal(err, request.describe);
  }
  const v5 = ws.protocol === 'v5.channel.k8s.io';
  let hooks: ExecHooks | undefined;
  let exit: ExitStatus | undefined;
  let killed = false;
  let killing: Promise<void> | undefined;

  const room = (s: Readable) =>
    s.destroyed || s.readableEnded || s.readableLength < s.readableHighWaterMark;
  // Called by _read, which runs before the reader took its data out of the buffer: look once
  // that is done. Both streams share the socket, so it resumes only when both have room.
  const resumeIfRoom = () => {
    process.nextTick(() => {
      if (ws.isPaused && room(stdout) && room(stderr)) ws.resume();
    });
  };
  const stdout = new Readable({ highWaterMark: READ_HIGH_WATER, read: resumeIfRoom });
  const stderr = new Readable({ highWaterMark: READ_HIGH_WATER, read: resumeIfRoom });
  if (tty) stderr.push(null);
  const push = (stream: Readable, data: Buffer) => {
    if (stream.destroyed || stream.readableEnded) return;
    // A consumer that stops reading pauses the socket: the API server's send buffer fills, then
    // the kubelet's, then the process blocks in write(). Memory here stays bounded.
    if (!stream.push(data)) ws.pause();
  };
  let ended = false;
  const endStreams = (message?: string) => {
    ended = true;
    if (message) push(tty ? stdout : stderr, Buffer.from(`${message}\n`));
    for (const s of [stdout, stderr]) if (!s.destroyed && !s.readableEnded) s.push(null);
  };

  ws.on('message', (data: Buffer) => {
    if (data.length < 2) return; // empty frames open every channel; they carry nothing
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === STDOUT) push(stdout, payload);
    else if (channel === STDERR) push(stderr, payload);
    else if (channel === STATUS && exit === undefined) {
      let parsed: KubeStatus;
      try {
        parsed = JSON.parse(payload.toString('utf8')) as KubeStatus;
      } catch {
        parsed = { status: 'Failure', message: payload.toString('utf8') };
      }
      const result = exitStatusOf(parsed);
      exit = result.exit;
      if (result.message) push(tty ? stdout : stderr, Buffer.from(`${result.message}\n`));
    }
  });
  ws.on('error', (err) => request.logger.debug({ err, pod: request.pod }, 'exec websocket error'));

  const closed = new Promise<void>((resolve) => {
    ws.once('close', () => {
      if (exit === undefined && !killed) {
        exit = { code: 255 };
        endStreams('neetodeploy: the connection to the console was lost');
      } else endStreams();
      stdin.destroy();
      resolve();
    });
  });
  // An output is over once its end was pushed and nothing of it is left unread: a stream
  // nobody listens to (often an empty stderr) never emits 'end', and must not hold `done`.
  const streamEnded = (s: Readable) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (s.readableEnded || s.destroyed || (ended && s.readableLength === 0)) resolve();
      };
      s.once('end', resolve);
      s.once('close', resolve);
      // (No 'data' listener here: it would switch the stream to flowing and bypass backpressure.)
      void closed.then(check);
    });
  // On a terminal stderr is empty from the start and nobody need read it.
  const done: Promise<ExitStatus> = Promise.all([
    closed,
    streamEnded(stdout),
    tty ? Promise.resolve() : streamEnded(stderr),
  ]).then(async () => {
    if (killing) await killing;
    return exit ?? { signal: 'TERM' };
  });

  const sendFrame = (channel: number, payload: Buffer, callback?: () => void) => {
    if (ws.readyState !== ws.OPEN) {
      callback?.();
      return;
    }
    ws.send(Buffer.concat([Buffer.from([channel]), payload]), () => callback?.());
  };

  const stdin = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      let offset = 0;
      const next = () => {
        if (offset >= chunk.length) {
          callback();
          return;
        }
        const piece = chunk.subarray(offset, offset + STDIN_FRAME);
        offset += piece.length;
        sendFrame(STDIN, piece, next);
      };
      next();
    },
    final(callback) {
      if (tty) sendFrame(STDIN, PTY_EOF, () => callback());
      else if (v5) sendFrame(CLOSE, Buffer.from([STDIN]), () => callback());
      else {
        // v4 has no way to close stdin alone, and closing the socket would end the session.
        callback();
      }
    },
  });
  stdin.on('error', () => undefined);

  if (request.pty && validSize(request.pty.cols, request.pty.rows)) {
    sendFrame(
      RESIZE,
      Buffer.from(JSON.stringify({ Width: request.pty.cols, Height: request.pty.rows })),
    );
  }

  return {
    protocol: ws.protocol,
    where: `${request.namespace}/${request.pod}`,
    stdin,
    stdout,
    stderr,
    done,
    setHooks(h: ExecHooks) {
      hooks = h;
    },
    resize(cols: number, rows: number) {
      if (!tty || !validSize(cols, rows)) return;
      sendFrame(RESIZE, Buffer.from(JSON.stringify({ Width: cols, Height: rows })));
    },
    signal(name: string) {
      const checked = checkSignalName(name);
      if (exit !== undefined || killed || !hooks) return;
      hooks.signal(checked).catch((err: unknown) => {
        request.logger.warn(
          { err, pod: request.pod, signal: checked },
          'signal could not be delivered',
        );
      });
    },
    kill() {
      if (killed) return;
      killed = true;
      const alreadyOver = exit !== undefined;
      stdin.destroy();
      stdout.destroy();
      stderr.destroy();
      ws.terminate();
      if (!alreadyOver && hooks) {
        killing = hooks.kill().catch((err: unknown) => {
          request.logger.warn({ err, pod: request.pod }, 'console processes could not be ended');
        });
      }
    },
  };
}
