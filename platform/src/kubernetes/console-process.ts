/**
 * The processes of a console inside a pod. Exec has no signal channel, so every console's
 * command runs with a random marker variable in its environment (inherited by everything it
 * starts), and signals reach them by a second exec that finds them by that marker.
 */
import { randomBytes } from 'node:crypto';
import type { ConsoleOptions } from '../types.js';
import { startExec } from './exec.js';
import type { KubernetesPlatformState } from './types.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MARKER_VAR = 'NEETODEPLOY_CONSOLE_ID';

/**
 * Signals the processes of one console, found by the marker variable in their environment.
 * With a grace (tenths of a second), waits that long for them to go, then KILLs what is left.
 */
const KILL_SCRIPT = [
  'pids() { for f in $(grep -lsF "$1" /proc/[0-9]*/environ 2>/dev/null); do f=${f#/proc/}; echo ${f%/environ}; done; }',
  'p=$(pids "$1"); [ -n "$p" ] && kill -s "$2" $p 2>/dev/null',
  'i=0; while [ "$i" -lt "$3" ] && [ -n "$(pids "$1")" ]; do sleep 0.1; i=$((i+1)); done',
  'if [ "$3" -gt 0 ]; then p=$(pids "$1"); [ -n "$p" ] && kill -s KILL $p 2>/dev/null; fi',
  'exit 0',
].join('\n');

/** Where a console runs and the marker its processes carry. */
export interface ConsoleProcess {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly marker: string;
}

export function newMarker(): string {
  return randomBytes(16).toString('hex');
}

/** The exec argv of a console: its environment, the marker, and the command or login shell. */
export function consoleArgv(
  { config }: KubernetesPlatformState,
  options: ConsoleOptions,
  marker: string,
): string[] {
  const envArgs = ['env', `${MARKER_VAR}=${marker}`, `SHELL=${config.console.shell}`];
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (ENV_NAME.test(key) && key !== MARKER_VAR) envArgs.push(`${key}=${value}`);
  }
  if (options.pty) envArgs.push(`TERM=${options.pty.term || 'xterm'}`);
  const program =
    options.command !== undefined
      ? ['/bin/sh', '-c', options.command]
      : [config.console.shell, '-l'];
  if (!options.pty) return [...envArgs, ...program];
  // Sets the terminal size before the program starts: a resize frame might arrive after the
  // program already asked for its size.
  return [
    '/bin/sh',
    '-c',
    'stty cols "$1" rows "$2" 2>/dev/null; shift 2; exec "$@"',
    'sh',
    String(options.pty.cols),
    String(options.pty.rows),
    ...envArgs,
    ...program,
  ];
}

/** Runs the marker kill script beside the console (a second exec) and waits for it. */
export async function signalByMarker(
  { client, logger }: KubernetesPlatformState,
  target: ConsoleProcess,
  signal: string,
  graceTenths: number,
): Promise<void> {
  const killer = await startExec({
    client,
    namespace: target.namespace,
    pod: target.pod,
    container: target.container,
    argv: [
      '/bin/sh',
      '-c',
      KILL_SCRIPT,
      'neetodeploy-signal',
      target.marker,
      signal,
      String(graceTenths),
    ],
    logger,
    describe: 'signal',
  });
  killer.stdin.end();
  killer.stdout.resume();
  killer.stderr.resume();
  await killer.done;
}
