/**
 * Consoles: a shell (or `sh -c COMMAND`) in the app's folder, with the app's environment, or
 * with the environment of the running instance the options target.
 */
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
  const shell = config.shell;
  const argv: [string, ...string[]] =
    options.command !== undefined
      ? [COMMAND_SHELL, '-c', options.command]
      : [shell, LOGIN_SHELL_FLAG];
  const console = await spawnConsole({
    argv,
    cwd: state.paths.appDir(app),
    env: { ...env, ...options.env, SHELL: shell },
    ...(options.pty ? { pty: options.pty } : {}),
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
