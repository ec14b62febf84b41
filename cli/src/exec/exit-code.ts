/** How a remote ending becomes our exit code: as OpenSSH's would, and 128+N for a signal. */
import { constants as osConstants } from 'node:os';

/** What ssh2 reported with the channel's `exit` event. */
export type RemoteExit =
  | { readonly code: number; readonly signal?: undefined }
  | { readonly code?: undefined; readonly signal: string };

/** Exit code when the connection is lost or the bastion goes away, as `ssh` uses it. */
export const CONNECTION_LOST = 255;

/** `SIGTERM` or `TERM` → 143, as a local shell reports a command killed by that signal. */
export function signalExitCode(signal: string): number {
  const name = `SIG${signal.replace(/^SIG/, '')}` as keyof typeof osConstants.signals;
  const num = osConstants.signals[name] as number | undefined;
  // A signal this OS does not know still must not look like success or a plain error.
  return num === undefined ? CONNECTION_LOST : 128 + num;
}

export function exitCodeOf(exit: RemoteExit): number {
  return exit.signal !== undefined ? signalExitCode(exit.signal) : exit.code & 0xff;
}
