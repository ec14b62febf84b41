/**
 * Local consoles: a child process in its own session (so its own process group), on pipes or on
 * a pseudo-terminal from node-pty. Signals go to the whole group, as sshd does.
 */
import { spawn as spawnChild } from 'node:child_process';
import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { spawn as spawnPty, type IPty } from 'node-pty';
import { Unavailable } from '../errors.js';
import type { Console, ExitStatus, PtyRequest } from '../types.js';
import { groupExists, killGroup, processExists, signalNameOf, toNodeSignal } from './signals.js';

export interface SpawnConsoleRequest {
  /** `[file, ...args]`. */
  readonly argv: readonly [string, ...string[]];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly pty?: PtyRequest;
  /** TERM → KILL grace for `kill()`. */
  readonly stopGraceMs: number;
  readonly logger: Logger;
}

/** A console plus what the local platform needs to manage it. */
export interface LocalConsole extends Console {
  /** Process id of the console's leader, which is also its process group id. */
  readonly pid: number;
}

/** Bytes the pty reader buffers before pausing the terminal (the kernel buffer holds the rest). */
const PTY_READ_HIGH_WATER = 64 * 1024;
/** Ctrl-D: what end-of-input means on a terminal in canonical mode. */
const PTY_EOF = '\x04';
const MAX_DIMENSION = 10_000;
const PTY_EXIT_WATCH_MS = 40;

/** False once a process has exited, zombie included (Linux /proc; elsewhere kill(pid, 0)). */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name in parentheses, which may itself contain ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return processExists(pid);
  }
}

export async function spawnConsole(request: SpawnConsoleRequest): Promise<LocalConsole> {
  return request.pty ? spawnPtyConsole(request, request.pty) : await spawnPipeConsole(request);
}

/** Sends TERM (and HUP to a terminal's session), then KILL to what is left after the grace. */
function makeKiller(pid: number, grace: number, hangup: boolean, done: Promise<unknown>) {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) return;
    if (hangup) killGroup(pid, 'SIGHUP');
    killGroup(pid, 'SIGTERM');
    timer = setTimeout(() => {
      killGroup(pid, 'SIGKILL');
    }, grace);
    // The timer must not keep a server (or a test run) alive, and is useless once nothing of
    // the group is left.
    timer.unref();
    void done.then(() => {
      if (timer && !groupExists(pid)) clearTimeout(timer);
    });
  };
}

function checkedSize(cols: number, rows: number): [number, number] | undefined {
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n <= MAX_DIMENSION;
  return ok(cols) && ok(rows) ? [cols, rows] : undefined;
}

async function spawnPipeConsole(request: SpawnConsoleRequest): Promise<LocalConsole> {
  const [file, ...args] = request.argv;
  const child = spawnChild(file, args, {
    cwd: request.cwd,
    env: request.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      child.off('spawn', onSpawn);
      reject(new Unavailable('the console could not be started', { cause: err }));
    };
    const onSpawn = () => {
      child.off('error', onError);
      resolve();
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
  const pid = child.pid;
  const { stdin, stdout, stderr } = child;
  if (pid === undefined || !stdin || !stdout || !stderr) {
    throw new Unavailable('the console could not be started');
  }
  // Writes after the process is gone fail with EPIPE; that is the normal end of a session.
  stdin.on('error', () => undefined);
  stdout.on('error', () => undefined);
  stderr.on('error', () => undefined);
  child.on('error', (err) => request.logger.warn({ err, pid }, 'console process error'));

  // 'close' comes after exit AND after stdout/stderr have ended (or were destroyed).
  const done = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      resolve(signal ? { signal: signalNameOf(signal) } : { code: code ?? 0 });
    });
  });
  const killer = makeKiller(pid, request.stopGraceMs, false, done);
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  return {
    pid,
    where: `local:${pid}`,
    stdin,
    stdout,
    stderr,
    done,
    resize() {
      // Pipes have no window size.
    },
    signal(name: string) {
      const sig = toNodeSignal(name);
      if (!exited) killGroup(pid, sig);
    },
    kill() {
      // Once done, the group is gone and its id may be recycled: signal nothing.
      if (!finished) killer();
      stdin.destroy();
      stdout.destroy();
      stderr.destroy();
    },
  };
}

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

function spawnPtyConsole(request: SpawnConsoleRequest, ptyRequest: PtyRequest): LocalConsole {
  const [file, ...args] = request.argv;
  const size = checkedSize(ptyRequest.cols, ptyRequest.rows) ?? [80, 24];
  let term: IPty;
  try {
    term = spawnPty(file, args, {
      name: ptyRequest.term || 'xterm',
      cols: size[0],
      rows: size[1],
      cwd: request.cwd,
      env: { ...request.env, TERM: ptyRequest.term || 'xterm' },
      encoding: null,
    });
  } catch (err) {
    throw new Unavailable('the console could not be started', { cause: err });
  }
  const pid = term.pid;
  let closed = false;
  let outputEnded = false;

  const stdout = new Readable({
    highWaterMark: PTY_READ_HIGH_WATER,
    read() {
      stopExitWatch();
      term.resume();
    },
  });
  const stderr = new Readable({ read() {} });
  stderr.push(null);

  // node-pty drops what is still unread in the terminal 200 ms after the process ended. So
  // while paused, watch for the end of the process and then drain: what is left is bounded by
  // the kernel's terminal buffer, since nothing writes any more. (Linux itself may still drop
  // a few KB of a terminal's buffer once its last writer closes; pipes have no such loss.)
  let exitWatch: NodeJS.Timeout | undefined;
  let draining = false;
  const stopExitWatch = () => {
    if (exitWatch) clearInterval(exitWatch);
    exitWatch = undefined;
  };
  const startExitWatch = () => {
    if (exitWatch || draining) return;
    exitWatch = setInterval(() => {
      if (isRunning(pid)) return;
      stopExitWatch();
      draining = true;
      term.resume();
    }, PTY_EXIT_WATCH_MS);
    exitWatch.unref();
  };

  term.onData((data: string | Buffer) => {
    if (outputEnded) return;
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // A consumer that stops reading pauses the terminal: the kernel's pty buffer fills and the
    // process blocks in write(), so memory here stays bounded.
    if (!stdout.push(chunk) && !draining) {
      term.pause();
      startExitWatch();
    }
  });

  const exited = new Promise<ExitStatus>((resolve) => {
    // node-pty reports exit only after the terminal's output was read to EIO (or 200 ms
    // after the process ended while the reader was paused).
    term.onExit(({ exitCode, signal }) => {
      closed = true;
      stopExitWatch();
      if (!outputEnded) {
        outputEnded = true;
        stdout.push(null);
      }
      resolve(signal ? { signal: signalNameOf(signal) } : { code: exitCode });
    });
  });
  const outputClosed = new Promise<void>((resolve) => {
    stdout.once('close', resolve);
  });
  const done = Promise.all([exited, outputClosed]).then(([status]) => status);
  const killer = makeKiller(pid, request.stopGraceMs, true, done);
  let finished = false;
  void done.then(() => {
    finished = true;
  });

  const direct = directPtyWriter(term);
  let retry: NodeJS.Timeout | undefined;
  /** Hands `chunk` to the terminal, then calls back: one chunk in flight at most. */
  const writeToPty = (chunk: Buffer, callback: () => void) => {
    if (!direct) {
      if (!closed) term.write(chunk);
      waitForPtyDrain(term, () => closed, callback);
      return;
    }
    let offset = 0;
    let delay = 1;
    const attempt = () => {
      retry = undefined;
      while (offset < chunk.length) {
        // Checked right before each write, on the thread that closes the descriptor.
        if (closed || direct.isClosed()) break;
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

  const console: LocalConsole = {
    pid,
    where: `local:${pid}`,
    stdin,
    stdout,
    stderr,
    done,
    resize(cols: number, rows: number) {
      const checked = checkedSize(cols, rows);
      if (!checked || closed) return;
      try {
        term.resize(checked[0], checked[1]);
      } catch (err) {
        // The terminal closed between the check and the ioctl.
        request.logger.debug({ err, pid }, 'resize of a closed terminal');
      }
    },
    signal(name: string) {
      const sig = toNodeSignal(name);
      if (!closed) killGroup(pid, sig);
    },
    kill() {
      if (!finished) killer();
      if (!outputEnded) {
        outputEnded = true;
        stdout.destroy();
      }
      // Keep draining so node-pty sees the terminal close and reports the exit.
      term.resume();
      stdin.destroy();
    },
  };
  return console;
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
