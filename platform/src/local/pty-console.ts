/**
 * A local console on a pseudo-terminal (node-pty): stdout and stderr merged as on a real
 * terminal, a window size, and HUP to the session when the client goes away.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { spawn as spawnPty, type IPty } from 'node-pty';
import { Unavailable } from '../errors.js';
import type { ExitStatus, PtyRequest } from '../types.js';
import { ptyStdin } from './pty-input.js';
import { groupKiller, killGroup, processExists, signalNameOf, toNodeSignal } from './signals.js';
import type { LocalConsole, SpawnConsoleRequest } from './types.js';

/** Bytes the pty reader buffers before pausing the terminal (the kernel buffer holds the rest). */
const PTY_READ_HIGH_WATER = 64 * 1024;
const MAX_DIMENSION = 10_000;
const PTY_EXIT_WATCH_MS = 40;

/** What the terminal's parts share. */
interface PtyState {
  /** node-pty reported the exit: the terminal is closed. */
  closed: boolean;
  /** stdout was ended or destroyed; later data is dropped. */
  outputEnded: boolean;
}

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

function checkedSize(cols: number, rows: number): [number, number] | undefined {
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n <= MAX_DIMENSION;
  return ok(cols) && ok(rows) ? [cols, rows] : undefined;
}

export function spawnPtyConsole(
  request: SpawnConsoleRequest,
  ptyRequest: PtyRequest,
): LocalConsole {
  const term = spawnTerminal(request, ptyRequest);
  const pid = term.pid;
  const pty: PtyState = { closed: false, outputEnded: false };
  const { stdout, stderr, exited } = ptyOutput(term, pty);
  const outputClosed = new Promise<void>((resolve) => {
    stdout.once('close', resolve);
  });
  const done = Promise.all([exited, outputClosed]).then(([status]) => status);
  const killer = groupKiller(pid, request.stopGraceMs, true, done);
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  const stdin = ptyStdin(term, () => pty.closed);

  return {
    pid,
    where: `local:${pid}`,
    stdin,
    stdout,
    stderr,
    done,
    resize(cols: number, rows: number) {
      const checked = checkedSize(cols, rows);
      if (!checked || pty.closed) return;
      try {
        term.resize(checked[0], checked[1]);
      } catch (err) {
        // The terminal closed between the check and the ioctl.
        request.logger.debug({ err, pid }, 'resize of a closed terminal');
      }
    },
    signal(name: string) {
      const sig = toNodeSignal(name);
      if (!pty.closed) killGroup(pid, sig);
    },
    kill() {
      if (!finished) killer();
      if (!pty.outputEnded) {
        pty.outputEnded = true;
        stdout.destroy();
      }
      // Keep draining so node-pty sees the terminal close and reports the exit.
      term.resume();
      stdin.destroy();
    },
  };
}

function spawnTerminal(request: SpawnConsoleRequest, ptyRequest: PtyRequest): IPty {
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
  if (request.terminalOwner !== undefined) giveTerminal(term, request.terminalOwner, request);
  return term;
}

/**
 * The terminal is made by (and owned by) the server; a console running as another uid could
 * not reopen it as /dev/tty (less, password prompts). Done before the console's shell is up:
 * its exec of setpriv and the shell takes longer than this synchronous chown.
 */
function giveTerminal(term: IPty, uid: number, request: SpawnConsoleRequest): void {
  const name = (term as IPty & { readonly ptsName?: unknown }).ptsName;
  if (typeof name !== 'string') return;
  try {
    fs.chownSync(name, uid, -1);
  } catch (err) {
    request.logger.warn({ err, pid: term.pid }, 'console terminal could not be given to the app');
  }
}

/** The terminal's output as stdout (stderr is empty), and its exit status. */
function ptyOutput(
  term: IPty,
  pty: PtyState,
): { stdout: Readable; stderr: Readable; exited: Promise<ExitStatus> } {
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
      if (isRunning(term.pid)) return;
      stopExitWatch();
      draining = true;
      term.resume();
    }, PTY_EXIT_WATCH_MS);
    exitWatch.unref();
  };

  term.onData((data: string | Buffer) => {
    if (pty.outputEnded) return;
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
      pty.closed = true;
      stopExitWatch();
      if (!pty.outputEnded) {
        pty.outputEnded = true;
        stdout.push(null);
      }
      resolve(signal ? { signal: signalNameOf(signal) } : { code: exitCode });
    });
  });
  return { stdout, stderr, exited };
}
