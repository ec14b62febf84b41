import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import * as pty from 'node-pty';
import type { WebSocket, RawData } from 'ws';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;
/** Unsent websocket bytes above which process output is paused, and below which it resumes. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  cwd: string;
  env: Record<string, string>;
}

/** What a test can see of a running exec session. */
export interface ExecSessionInfo {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  protocol: string;
  tty: boolean;
  /** Last terminal size applied (tty only). */
  size: { cols: number; rows: number } | undefined;
}

interface Session {
  info: ExecSessionInfo;
  namespace: string;
  pod: string;
  /** Ends the process (group) now; the session then reports its exit as usual. */
  kill: () => void;
  forceKill: () => void;
}

function resolveCommand(cmd: string, env: Record<string, string>, cwd: string): string | undefined {
  const usable = (p: string): boolean => {
    try {
      accessSync(p, fsConstants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes('/')) {
    const p = path.resolve(cwd, cmd);
    return usable(p) ? p : undefined;
  }
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir && usable(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return undefined;
}

function exitStatus(command: string[], code: number): object {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

function notFoundStatus(cmd: string): object {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: error executing command in container: failed to exec in container: OCI runtime exec failed: exec failed: unable to start container process: exec: "${cmd}": executable file not found in $PATH: unknown`,
    reason: 'InternalError',
    details: { causes: [{ message: `exec: "${cmd}": executable file not found in $PATH` }] },
    code: 500,
  };
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * Runs exec sessions: one real local process per websocket (on a pseudo-terminal when
 * `tty`), framed with the channel protocol (`v4`/`v5.channel.k8s.io`), ending with the
 * Status on channel 3 and a normal close.
 */
export class ExecManager {
  private readonly sessions = new Set<Session>();

  active(): number {
    return this.sessions.size;
  }

  /** The pod went away: its processes die, as the container's would. */
  killPod(namespace: string, pod: string): void {
    for (const s of this.sessions) if (s.namespace === namespace && s.pod === pod) s.kill();
  }

  list(): ExecSessionInfo[] {
    return [...this.sessions].map((s) => structuredClone(s.info));
  }

  /** Kills every session's processes and waits (up to a second) for them to be reaped. */
  async killAll(): Promise<void> {
    for (const s of this.sessions) s.kill();
    const deadline = Date.now() + 1000;
    while (this.sessions.size > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sessions) s.forceKill();
  }

  start(ws: WebSocket, protocol: string, req: ExecRequest): void {
    const v5 = protocol === 'v5.channel.k8s.io';
    // Output sources are paused while the websocket holds more than HIGH_WATER unsent bytes,
    // as TCP backpressure from a slow client reaches a real kubelet's process.
    const sources: { pause(): void; resume(): void }[] = [];
    let drainPoll: NodeJS.Timeout | undefined;
    const throttle = (): void => {
      if (drainPoll || ws.bufferedAmount <= HIGH_WATER) return;
      for (const src of sources) src.pause();
      drainPoll = setInterval(() => {
        if (ws.readyState === ws.OPEN && ws.bufferedAmount > LOW_WATER) return;
        clearInterval(drainPoll);
        drainPoll = undefined;
        for (const src of sources) src.resume();
      }, 5);
    };
    const send = (channel: number, data: Buffer | string): void => {
      if (ws.readyState !== ws.OPEN) return;
      const payload = typeof data === 'string' ? Buffer.from(data) : data;
      ws.send(Buffer.concat([Buffer.from([channel]), payload]));
      throttle();
    };
    // The real server opens every channel with an empty frame; clients must ignore them.
    if (req.stdout) send(STDOUT, Buffer.alloc(0));
    if (req.stderr && !req.tty) send(STDERR, Buffer.alloc(0));
    send(ERROR, Buffer.alloc(0));

    let finished = false;
    const finish = (status: object): void => {
      if (finished) return;
      finished = true;
      this.sessions.delete(session);
      send(ERROR, JSON.stringify(status));
      if (ws.readyState === ws.OPEN) ws.close(1000);
    };

    const program = req.command[0] ?? '';
    const resolved = resolveCommand(program, req.env, req.cwd);
    const session: Session = {
      info: {
        namespace: req.namespace,
        pod: req.pod,
        container: req.container,
        command: req.command,
        protocol,
        tty: req.tty,
        size: req.tty ? { cols: 80, rows: 24 } : undefined,
      },
      namespace: req.namespace,
      pod: req.pod,
      kill: () => undefined,
      forceKill: () => undefined,
    };
    if (!resolved) {
      finish(notFoundStatus(program));
      return;
    }
    this.sessions.add(session);

    let writeStdin: (b: Buffer) => void;
    let closeStdin: () => void;
    let resize: (cols: number, rows: number) => void = () => undefined;
    let pid: number | undefined;

    const killGroup = (signal: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // Already gone.
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    session.forceKill = () => killGroup('SIGKILL');
    session.kill = () => {
      killGroup('SIGHUP');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), 500);
      killTimer.unref();
    };

    const onExit = (code: number | null, signal: string | null | number): void => {
      if (killTimer) clearTimeout(killTimer);
      let rc = code ?? 0;
      if (signal) {
        const num =
          typeof signal === 'number'
            ? signal
            : (osConstants.signals[signal as NodeJS.Signals] ?? 1);
        if (num > 0) rc = 128 + num;
      }
      finish(exitStatus(req.command, rc));
    };

    if (req.tty) {
      const term = pty.spawn(resolved, req.command.slice(1), {
        name: 'xterm',
        cols: 80,
        rows: 24,
        cwd: req.cwd,
        env: { ...req.env, TERM: 'xterm' },
        encoding: null,
      });
      pid = term.pid;
      term.onData((d: string | Buffer) => send(STDOUT, typeof d === 'string' ? Buffer.from(d) : d));
      sources.push(term);
      // node-pty reports the exit only once the terminal's output has been read to the end.
      term.onExit(({ exitCode, signal }) => onExit(exitCode, signal ?? null));
      writeStdin = (b) => term.write(b);
      closeStdin = () => term.write('\x04');
      resize = (cols, rows) => {
        if (cols > 0 && rows > 0 && !finished) {
          term.resize(cols, rows);
          session.info.size = { cols, rows };
        }
      };
    } else {
      const child: ChildProcess = spawn(resolved, req.command.slice(1), {
        cwd: req.cwd,
        env: req.env,
        argv0: program,
        detached: true,
        stdio: [
          req.stdin ? 'pipe' : 'ignore',
          req.stdout ? 'pipe' : 'ignore',
          req.stderr ? 'pipe' : 'ignore',
        ],
      });
      pid = child.pid;
      child.stdout?.on('data', (d: Buffer) => send(STDOUT, d));
      child.stderr?.on('data', (d: Buffer) => send(STDERR, d));
      for (const out of [child.stdout, child.stderr]) if (out) sources.push(out);
      child.stdin?.on('error', () => undefined);
      let exited: [number | null, NodeJS.Signals | null] | undefined;
      child.on('exit', (code, signal) => {
        exited = [code, signal];
        // Output is complete when the pipes close; a background grandchild holding them open
        // must not hang the session forever, so the main process's exit wins after a while.
        setTimeout(() => onExit(code, signal), 2000).unref();
      });
      child.on('close', () => {
        if (exited) onExit(exited[0], exited[1]);
      });
      child.on('error', (err) =>
        finish({
          metadata: {},
          status: 'Failure',
          message: err.message,
          reason: 'InternalError',
          code: 500,
        }),
      );
      writeStdin = (b) => child.stdin?.write(b);
      closeStdin = () => child.stdin?.end();
    }

    ws.on('message', (data: RawData) => {
      const buf = toBuffer(data);
      if (buf.length === 0) return;
      const channel = buf[0];
      const payload = buf.subarray(1);
      if (channel === STDIN) {
        if (req.stdin && payload.length > 0) writeStdin(payload);
      } else if (channel === RESIZE) {
        try {
          // Go's encoding/json matches field names case-insensitively, and client-node sends
          // {"width","height"} where kubectl sends {"Width","Height"}: accept both.
          const size = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
          const field = (name: string): number =>
            Number(Object.entries(size).find(([k]) => k.toLowerCase() === name)?.[1] ?? 0);
          resize(field('width'), field('height'));
        } catch {
          // A malformed resize is ignored, as the kubelet does.
        }
      } else if (channel === CLOSE && v5 && payload[0] === STDIN) {
        closeStdin();
      }
    });
    ws.on('close', () => {
      if (!finished) session.kill();
    });
  }
}
