/** A local console on pipes: stdin, stdout and stderr apart, no window size. */
import { spawn as spawnChild } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { Unavailable } from '../errors.js';
import type { ExitStatus } from '../types.js';
import { groupKiller, killGroup, signalNameOf, toNodeSignal } from './signals.js';
import type { LocalConsole, SpawnConsoleRequest } from './types.js';

export async function spawnPipeConsole(request: SpawnConsoleRequest): Promise<LocalConsole> {
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
  stdin.on('error', ignore);
  stdout.on('error', ignore);
  stderr.on('error', ignore);
  child.on('error', (err) => request.logger.warn({ err, pid }, 'console process error'));

  // 'close' comes after exit AND after stdout/stderr have ended (or were destroyed).
  const done = new Promise<ExitStatus>((resolve) => {
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      resolve(signal ? { signal: signalNameOf(signal) } : { code: code ?? 0 });
    });
  });
  const pipes = new PipeConsole(pid, stdin, stdout, stderr, done, request.stopGraceMs);
  child.on('exit', () => pipes.exited());
  return pipes;
}

function ignore(): void {
  // An EPIPE after the process is gone is the normal end of a session, not an error.
}

/** A class: thousands are held at once, and methods on a prototype cost each of them nothing. */
class PipeConsole implements LocalConsole {
  readonly where: string;
  private exitedYet = false;
  private finished = false;
  private readonly killer: () => void;

  constructor(
    readonly pid: number,
    readonly stdin: Writable,
    readonly stdout: Readable,
    readonly stderr: Readable,
    readonly done: Promise<ExitStatus>,
    stopGraceMs: number,
  ) {
    this.where = `local:${pid}`;
    this.killer = groupKiller(pid, stopGraceMs, false, done);
    void done.then(() => {
      this.finished = true;
    });
  }

  exited(): void {
    this.exitedYet = true;
  }

  resize(): void {
    // Pipes have no window size.
  }

  signal(name: string): void {
    const sig = toNodeSignal(name);
    if (!this.exitedYet) killGroup(this.pid, sig);
  }

  kill(): void {
    // Once done, the group is gone and its id may be recycled: signal nothing.
    if (!this.finished) this.killer();
    this.stdin.destroy();
    this.stdout.destroy();
    this.stderr.destroy();
  }
}
