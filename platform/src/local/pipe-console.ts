/** A local console on pipes: stdin, stdout and stderr apart, no window size. */
import { spawn as spawnChild } from 'node:child_process';
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
  stdin.on('error', () => undefined);
  stdout.on('error', () => undefined);
  stderr.on('error', () => undefined);
  child.on('error', (err) => request.logger.warn({ err, pid }, 'console process error'));

  // 'close' comes after exit AND after stdout/stderr have ended (or were destroyed).
  const done = new Promise<ExitStatus>((resolve) => {
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      resolve(signal ? { signal: signalNameOf(signal) } : { code: code ?? 0 });
    });
  });
  const killer = groupKiller(pid, request.stopGraceMs, false, done);
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  let exited = false;
  child.on('exit', () => {
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
