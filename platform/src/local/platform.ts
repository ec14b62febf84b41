/**
 * The local platform, the embedded default: apps are folders under `<dataDir>/apps/` with a
 * Procfile, their processes are local process groups, consoles are local processes (on pipes
 * or a pty), logs are files, config vars are JSON files. Several processes on one host may use
 * the same data dir (the server that runs the apps, a bastion-only server, admin commands).
 *
 * This file only wires the modules, each a set of functions of one shared state: apps and
 * targets (what runs), consoles, logs, config vars, and the supervisor that runs the apps.
 */
import { checkAppName } from '../app-name.js';
import { listApps, listProcesses, requireApp } from './apps.js';
import type { LocalPlatformConfigInput } from './config.js';
import { getAppConfigVars, updateAppConfigVars } from './config-vars.js';
import { endConsoles, openConsole } from './consoles.js';
import { EVENTS } from './events.js';
import { claimOwnership } from './files.js';
import { streamAppLogs } from './logs.js';
import { openPortForward } from './port-forward.js';
import { createPlatformState } from './state.js';
import type { LocalPlatform, LocalPlatformDeps, LocalPlatformState } from './types.js';

export type { LocalPlatform, LocalPlatformDeps } from './types.js';

/**
 * Creates the data dir layout (and the demo app on first use), starts the apps' processes when
 * `runProcesses` is set, and returns the platform. `close()` stops everything it started.
 */
export async function createLocalPlatform(
  input: LocalPlatformConfigInput,
  deps: LocalPlatformDeps,
): Promise<LocalPlatform> {
  const state = await createPlatformState(input, deps);
  const releaseSupervisor = await startSupervisor(state);
  let closed: Promise<void> | undefined;
  const platform: LocalPlatform = {
    config: state.config,
    appDir(app) {
      checkAppName(app);
      return state.paths.appDir(app);
    },
    rescan: async () => {
      await state.supervisor?.scan();
    },
    listApps: () => listApps(state),
    getApp: (app) => requireApp(state, app),
    listProcesses: (app) => listProcesses(state, app),
    openConsole: (app, options) => openConsole(state, app, options),
    streamLogs: (app, options) => streamAppLogs(state, app, options),
    getConfigVars: (app) => getAppConfigVars(state, app),
    updateConfigVars: (app, change, options) => updateAppConfigVars(state, app, change, options),
    openPortForward: (app, options) => openPortForward(state, app, options),
    close() {
      closed ??= close(state, releaseSupervisor);
      return closed;
    },
  };
  state.logger.info(
    {
      dataDir: state.paths.dataDir,
      runProcesses: state.config.runProcesses,
      isolation: state.isolation.mode,
    },
    EVENTS.started,
  );
  return platform;
}

/**
 * Claims the data dir's apps for this process (one process runs them) and starts them; returns
 * what releases the claim. Does nothing without a supervisor.
 */
async function startSupervisor({ paths, supervisor }: LocalPlatformState) {
  if (!supervisor) return undefined;
  const release = await claimOwnership(paths.supervisorFile, `runs the apps of ${paths.dataDir}`);
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.close();
    release();
    throw err;
  }
  return release;
}

async function close(
  state: LocalPlatformState,
  releaseSupervisor: (() => void) | undefined,
): Promise<void> {
  state.closing.abort();
  const ending = endConsoles(state);
  // The KILL timers are unref'd; a shutting-down server must stay up until they fired.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await state.supervisor?.close();
    releaseSupervisor?.();
    await ending;
  } finally {
    clearInterval(keepAlive);
  }
  state.logger.info(EVENTS.closed);
}
