/**
 * A console over the `pods/exec` websocket (channel protocol v5, or v4 as a fallback): channel
 * 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 resize, 255 close (v5 only).
 *
 * Kubernetes exec has no signal channel and does not end a process whose connection dropped
 * (without a terminal), so signals and kills are delivered by the caller's hooks (a second
 * exec, or deleting a one-off pod); see console-process.ts and console-pods.ts.
 */
import { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { AccessDenied, NotFound, Unavailable } from '../errors.js';
import type { Console, ExitStatus, PtyRequest } from '../types.js';
import { KubeApiError, queryString, type KubeClient, type KubeStatus } from './client.js';
import { checkSignalName, exitStatusOf } from './exit-status.js';

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
  /**
   * The User-Agent of the exec request, naming the session and the person (`sessionUserAgent`),
   * so that the cluster's audit log, which sees only the platform's service account, can be
   * joined with the session's recording.
   */
  readonly userAgent?: string;
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

/** What the parts of one exec share: how it ended and who ends it. */
interface ExecState {
  readonly ws: WebSocket;
  readonly tty: boolean;
  exit: ExitStatus | undefined;
  hooks: ExecHooks | undefined;
  killed: boolean;
  killing: Promise<void> | undefined;
}

/** stdout and stderr of an exec, fed from the socket with backpressure. */
interface ExecOutput {
  readonly stdout: Readable;
  readonly stderr: Readable;
  push(stream: Readable, data: Buffer): void;
  /** Tells the user something, on stderr (stdout on a terminal). */
  tell(message: string): void;
  /** Ends both streams. */
  end(): void;
  /** True once end() ran. */
  ended(): boolean;
}

export async function startExec(request: ExecRequest): Promise<ExecConsole> {
  const { ws, execRequest } = await openExecSocket(request);
  const exec: ExecState = {
    ws,
    tty: request.pty !== undefined,
    exit: undefined,
    hooks: undefined,
    killed: false,
    killing: undefined,
  };
  const output = execOutput(ws, exec.tty);
  ws.on('message', (data: Buffer) => receive(exec, output, data));
  ws.on('error', (err) => request.logger.debug({ err, pod: request.pod }, 'exec websocket error'));
  const send = frameSender(ws);
  const stdin = execStdin(send, exec.tty, ws.protocol === 'v5.channel.k8s.io');
  const closed = new Promise<void>((resolve) => {
    ws.once('close', () => {
      if (exec.exit === undefined && !exec.killed) {
        exec.exit = { code: 255 };
        output.tell('neetodeploy: the connection to the console was lost');
      }
      output.end();
      stdin.destroy();
      resolve();
    });
  });
  const done = whenDone(exec, output, closed);
  if (request.pty && validSize(request.pty.cols, request.pty.rows)) {
    send(
      RESIZE,
      Buffer.from(JSON.stringify({ Width: request.pty.cols, Height: request.pty.rows })),
    );
  }

  return {
    protocol: ws.protocol,
    where: `${request.namespace}/${request.pod}`,
    ...(execRequest ? { execRequest } : {}),
    stdin,
    stdout: output.stdout,
    stderr: output.stderr,
    done,
    setHooks(h: ExecHooks) {
      exec.hooks = h;
    },
    resize(cols: number, rows: number) {
      if (!exec.tty || !validSize(cols, rows)) return;
      send(RESIZE, Buffer.from(JSON.stringify({ Width: cols, Height: rows })));
    },
    signal(name: string) {
      const checked = checkSignalName(name);
      if (exec.exit !== undefined || exec.killed || !exec.hooks) return;
      exec.hooks.signal(checked).catch((err: unknown) => {
        request.logger.warn(
          { err, pod: request.pod, signal: checked },
          'signal could not be delivered',
        );
      });
    },
    kill() {
      if (exec.killed) return;
      exec.killed = true;
      const alreadyOver = exec.exit !== undefined;
      stdin.destroy();
      output.stdout.destroy();
      output.stderr.destroy();
      ws.terminate();
      if (!alreadyOver && exec.hooks) {
        exec.killing = exec.hooks.kill().catch((err: unknown) => {
          request.logger.warn({ err, pod: request.pod }, 'console processes could not be ended');
        });
      }
    },
  };
}

async function openExecSocket(
  request: ExecRequest,
): Promise<{ ws: WebSocket; execRequest?: { path: string; userAgent: string } }> {
  const tty = request.pty !== undefined;
  const path = `/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods/${encodeURIComponent(request.pod)}/exec`;
  const query = {
    container: request.container,
    command: request.argv,
    stdin: true,
    stdout: true,
    stderr: !tty,
    tty,
  };
  const { userAgent } = request;
  try {
    const ws = await request.client.websocket(
      path,
      query,
      EXEC_PROTOCOLS,
      userAgent === undefined ? undefined : { 'User-Agent': userAgent },
    );
    if (userAgent === undefined) return { ws };
    return { ws, execRequest: { path: `${path}${queryString(query)}`, userAgent } };
  } catch (err) {
    throw refusal(err, request.describe);
  }
}

function execOutput(ws: WebSocket, tty: boolean): ExecOutput {
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
  return {
    stdout,
    stderr,
    push,
    tell: (message) => push(tty ? stdout : stderr, Buffer.from(`${message}\n`)),
    end() {
      ended = true;
      for (const s of [stdout, stderr]) if (!s.destroyed && !s.readableEnded) s.push(null);
    },
    ended: () => ended,
  };
}

/** One frame from the API server: output, or the final Status (the first one counts). */
function receive(exec: ExecState, output: ExecOutput, data: Buffer): void {
  if (data.length < 2) return; // empty frames open every channel; they carry nothing
  const channel = data[0];
  const payload = data.subarray(1);
  if (channel === STDOUT) output.push(output.stdout, payload);
  else if (channel === STDERR) output.push(output.stderr, payload);
  else if (channel === STATUS && exec.exit === undefined) {
    let parsed: KubeStatus;
    try {
      parsed = JSON.parse(payload.toString('utf8')) as KubeStatus;
    } catch {
      parsed = { status: 'Failure', message: payload.toString('utf8') };
    }
    const result = exitStatusOf(parsed);
    exec.exit = result.exit;
    if (result.message) output.tell(result.message);
  }
}

/** Resolves with the exit status once the socket closed and the output was read. */
function whenDone(exec: ExecState, output: ExecOutput, closed: Promise<void>) {
  // An output is over once its end was pushed and nothing of it is left unread: a stream
  // nobody listens to (often an empty stderr) never emits 'end', and must not hold `done`.
  const streamEnded = (s: Readable) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (s.readableEnded || s.destroyed || (output.ended() && s.readableLength === 0)) resolve();
      };
      s.once('end', resolve);
      s.once('close', resolve);
      // (No 'data' listener here: it would switch the stream to flowing and bypass backpressure.)
      void closed.then(check);
    });
  // On a terminal stderr is empty from the start and nobody need read it.
  return Promise.all([
    closed,
    streamEnded(output.stdout),
    exec.tty ? Promise.resolve() : streamEnded(output.stderr),
  ]).then(async (): Promise<ExitStatus> => {
    if (exec.killing) await exec.killing;
    return exec.exit ?? { signal: 'TERM' };
  });
}

type SendFrame = (channel: number, payload: Buffer, callback?: () => void) => void;

/** Sends one channel frame; calls back at once when the socket is no longer open. */
function frameSender(ws: WebSocket): SendFrame {
  return (channel, payload, callback) => {
    if (ws.readyState !== ws.OPEN) {
      callback?.();
      return;
    }
    ws.send(Buffer.concat([Buffer.from([channel]), payload]), () => callback?.());
  };
}

function execStdin(send: SendFrame, tty: boolean, v5: boolean): Writable {
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
        send(STDIN, piece, next);
      };
      next();
    },
    final(callback) {
      if (tty) send(STDIN, PTY_EOF, () => callback());
      else if (v5) send(CLOSE, Buffer.from([STDIN]), () => callback());
      else {
        // v4 has no way to close stdin alone, and closing the socket would end the session.
        callback();
      }
    },
  });
  stdin.on('error', () => undefined);
  return stdin;
}
