import os from 'node:os';
import { BadRequest } from '../errors.js';

const SIGNALS = os.constants.signals as Readonly<Record<string, number>>;

/** `TERM` → `SIGTERM`; BadRequest for names the OS does not know. */
export function toNodeSignal(name: string): NodeJS.Signals {
  const upper = name.toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (!Object.hasOwn(SIGNALS, full)) {
    throw new BadRequest(`unknown signal ${JSON.stringify(name)}`);
  }
  return full as NodeJS.Signals;
}

/** 15 → `TERM` (names without `SIG`, as SSH's exit-signal carries them). */
export function signalNameOf(signal: number | string): string {
  if (typeof signal === 'string') return signal.replace(/^SIG/, '');
  for (const [name, num] of Object.entries(SIGNALS)) {
    if (num === signal) return name.replace(/^SIG/, '');
  }
  return String(signal);
}

/**
 * Sends a signal to a whole process group. False when the group no longer exists; other
 * errors (EPERM) are thrown because they mean a bug in who we think we started.
 */
export function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

export function groupExists(pgid: number): boolean {
  return killGroup(pgid, 0);
}

export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What ends a console's process group: TERM (and HUP first to a terminal's session), then KILL
 * to what is left after the grace. Calls after the first do nothing.
 */
export function groupKiller(
  pid: number,
  grace: number,
  hangup: boolean,
  done: Promise<unknown>,
): () => void {
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
