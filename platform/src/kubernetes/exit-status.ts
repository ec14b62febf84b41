/** Signal names and exit statuses of exec'd processes, as a shell and SSH see them. */
import os from 'node:os';
import { BadRequest } from '../errors.js';
import type { ExitStatus } from '../types.js';
import type { KubeStatus } from './client.js';

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
