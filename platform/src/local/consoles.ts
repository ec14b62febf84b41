/**
 * Consoles: a shell (or `sh -c COMMAND`) in the app's folder, with the app's environment, or
 * with the environment of the running instance the options target.
 */
import fs from 'node:fs';
import { abortError } from '../abort.js';
import { Unavailable } from '../errors.js';
import type { Console, ConsoleOptions } from '../types.js';
import { requireApp } from './apps.js';
import { EVENTS } from './events.js';
import { spawnConsole } from './spawn-console.js';
import { resolveTarget } from './targets.js';
import type { LocalConsole, LocalPlatformState } from './types.js';

const LOGIN_SHELL_FLAG = '-l';
const COMMAND_SHELL = '/bin/sh';
/** Interactive consoles prefer bash (history, completion), as Heroku's and fly's do. */
const PREFERRED_SHELLS = ['/bin/bash', '/usr/bin/bash'];

/** The configured interactive shell, else bash where installed, else sh. */
export function interactiveShell(configured: string | undefined): string {
  if (configured !== undefined) return configured;
  return PREFERRED_SHELLS.find((file) => isExecutable(file)) ?? COMMAND_SHELL;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * An interactive console first says where it is (on stderr, so a script reading stdout never
 * sees it), then becomes the login shell: `sh -c` prints, `exec` replaces it.
 */
function interactiveArgv(shell: string, banner: string): [string, ...string[]] {
  return [
    COMMAND_SHELL,
    '-c',
    `printf '%s\n' "$1" >&2; exec "$0" ${LOGIN_SHELL_FLAG}`,
    shell,
    banner,
  ];
}

export async function openConsole(
  state: LocalPlatformState,
  app: string,
  options: ConsoleOptions,
): Promise<Console> {
  const { config, closing } = state;
  await requireApp(state, app);
  if (closing.signal.aborted) throw new Unavailable('the platform is shutting down');
  const target = options.target;
  let env: Record<string, string>;
  let instance: string | undefined;
  if (target && (target.process !== undefined || target.pod !== undefined)) {
    const found = await resolveTarget(state, app, target);
    instance = found.name;
    env = found.env;
  } else {
    const { vars } = await state.store.get(app);
    env = { ...config.baseEnv, ...vars };
  }
  if (options.signal?.aborted) throw abortError(options.signal);
  const shell = interactiveShell(config.shell);
  const where = `${app} · ${instance ?? 'one-off console'}`;
  const argv: [string, ...string[]] =
    options.command !== undefined
      ? [COMMAND_SHELL, '-c', options.command]
      : interactiveArgv(shell, `neetodeploy: ${where} (local platform)`);
  const appDir = state.paths.appDir(app);
  const { isolation } = state;
  await isolation.prepare(app);
  const owner = isolation.terminalOwner(app);
  const console = await spawnConsole({
    argv: isolation.argv(app, argv),
    cwd: appDir,
    // HOME is the app's folder, as Heroku's is /app; the prompt names the app and process.
    env: {
      HOME: appDir,
      ...env,
      ...options.env,
      SHELL: shell,
      ...(options.command === undefined ? { PS1: `${app}:${instance ?? 'console'} \\w\\$ ` } : {}),
    },
    ...(options.pty ? { pty: options.pty } : {}),
    ...(owner === undefined ? {} : { terminalOwner: owner }),
    stopGraceMs: config.limits.stopGraceMs,
    logger: state.logger,
  });
  trackConsole(state, console, {
    app,
    sessionId: options.sessionId,
    user: options.user,
    pid: console.pid,
    pty: options.pty !== undefined,
    ...(instance ? { process: instance } : {}),
  });
  if (options.signal?.aborted) {
    console.kill();
    throw abortError(options.signal);
  }
  if (closing.signal.aborted) {
    // close() ran while this console was starting and did not see it.
    console.kill();
    throw new Unavailable('the platform is shutting down');
  }
  return console;
}

function trackConsole(
  { consoles, logger }: LocalPlatformState,
  console: LocalConsole,
  fields: Record<string, unknown>,
): void {
  logger.info(fields, EVENTS.consoleStarted);
  consoles.add(console);
  void console.done.then((status) => {
    consoles.delete(console);
    logger.info({ ...fields, ...status }, EVENTS.consoleEnded);
  });
}

/** Kills every open console (TERM, then KILL after the grace); resolves once they ended. */
export function endConsoles({ consoles }: LocalPlatformState): Promise<unknown> {
  return Promise.all(
    [...consoles].map((c) => {
      c.kill();
      return c.done;
    }),
  );
}
