/**
 * The kubernetes platform: apps are Deployments labelled with the app (and process type) in a
 * namespace per app or a shared one; consoles are one-off pods made from an app's pod template,
 * or execs into its running pods; logs come from `pods/log`; config vars live in a Secret.
 *
 * This file only wires the modules, each a set of functions of one shared state:
 * apps / processes / targets (what runs), consoles (console-pods, target-consoles), logs,
 * config-vars and rollout, port-forward, and the reaper of orphan console pods.
 */
import { checkAppName } from '../app-name.js';
import { Unavailable } from '../errors.js';
import type { Console, ConsoleOptions, PortForwardOptions, PortForwardStream } from '../types.js';
import { listApps, requireApp } from './apps.js';
import type { KubernetesPlatformConfigInput } from './config.js';
import { getAppConfigVars, updateAppConfigVars } from './config-vars.js';
import { openOneOffConsole } from './console-pods.js';
import { endConsoles } from './console-registry.js';
import { EVENTS } from './events.js';
import { streamAppLogs } from './logs.js';
import { namespaceOf } from './namespaces.js';
import { listProcesses } from './processes.js';
import { openKubernetesPortForward } from './port-forward.js';
import { reapOrphans, startReaper } from './reaper.js';
import { createPlatformState } from './state.js';
import { openTargetConsole } from './target-consoles.js';
import type {
  KubernetesPlatform,
  KubernetesPlatformDeps,
  KubernetesPlatformState,
} from './types.js';

export type { KubernetesPlatform, KubernetesPlatformDeps } from './types.js';

// Async although nothing inside awaits yet: a bad config must reject like any other failure.
// eslint-disable-next-line @typescript-eslint/require-await
export async function createKubernetesPlatform(
  input: KubernetesPlatformConfigInput,
  deps: KubernetesPlatformDeps,
): Promise<KubernetesPlatform> {
  const state = createPlatformState(input, deps);
  const stopReaper = startReaper(state);
  let closed: Promise<void> | undefined;
  const platform: KubernetesPlatform = {
    config: state.config,
    namespaceOf: (app) => namespaceOf(state, app),
    reapOrphans: () => reapOrphans(state),
    appNamespaces: () => state.namespaces.current(),
    setAppNamespaces: (namespaces) => state.namespaces.set(namespaces),
    listApps: () => listApps(state),
    getApp: async (app) => (await requireApp(state, app)).info,
    listProcesses: (app) => listProcesses(state, app),
    openConsole: (app, options) => openConsole(state, app, options),
    streamLogs: (app, options) => streamAppLogs(state, app, options),
    getConfigVars: (app) => getAppConfigVars(state, app),
    updateConfigVars: (app, change, options) => updateAppConfigVars(state, app, change, options),
    openPortForward: (app, options) => openPortForward(state, app, options),
    close() {
      closed ??= close(state, stopReaper);
      return closed;
    },
  };
  state.logger.info({ namespaces: state.config.namespaces.mode }, EVENTS.started);
  return platform;
}

/** A console beside a running process when the options name a target, else a one-off pod. */
async function openConsole(
  state: KubernetesPlatformState,
  app: string,
  options: ConsoleOptions,
): Promise<Console> {
  checkAppName(app);
  if (state.closing.signal.aborted) throw new Unavailable('the platform is shutting down');
  const target = options.target;
  if (target && (target.process !== undefined || target.pod !== undefined)) {
    await requireApp(state, app);
    return openTargetConsole(state, app, options);
  }
  return openOneOffConsole(state, app, options);
}

/** One TCP connection to a port inside a running pod of the app (never a one-off console). */
async function openPortForward(
  state: KubernetesPlatformState,
  app: string,
  options: PortForwardOptions,
): Promise<PortForwardStream> {
  checkAppName(app);
  if (state.closing.signal.aborted) throw new Unavailable('the platform is shutting down');
  return openKubernetesPortForward(state, app, options);
}

/** Nothing new starts; open consoles end and their pods are deleted before it resolves. */
async function close(state: KubernetesPlatformState, stopReaper: () => void): Promise<void> {
  state.closing.abort();
  stopReaper();
  state.namespaces.close();
  await endConsoles(state);
  await Promise.all([...state.removals]);
  if (state.ownsClient) state.client.close();
  state.logger.info(EVENTS.closed);
}
