/**
 * A console beside a running process: an exec into its pod. Signals and the end of the console
 * go to the console's own processes (by marker), never to the app's.
 */
import { abortError } from '../abort.js';
import type { Console, ConsoleOptions } from '../types.js';
import { consoleArgv, newMarker, signalByMarker, type ConsoleProcess } from './console-process.js';
import { trackConsole } from './console-registry.js';
import { startExec } from './exec.js';
import { sessionUserAgent } from './port-forward.js';
import { namespaceOf } from './namespaces.js';
import { resolveTarget } from './targets.js';
import type { KubernetesPlatformState } from './types.js';

export async function openTargetConsole(
  state: KubernetesPlatformState,
  app: string,
  options: ConsoleOptions,
): Promise<Console> {
  const ns = namespaceOf(state, app);
  const { podName, container, instance } = await resolveTarget(state, app, options.target ?? {});
  const where: ConsoleProcess = { namespace: ns, pod: podName, container, marker: newMarker() };
  if (options.signal?.aborted) throw abortError(options.signal);
  const console = await startExec({
    client: state.client,
    namespace: ns,
    pod: podName,
    container,
    argv: consoleArgv(state, options, where.marker),
    pty: options.pty,
    logger: state.logger,
    describe: `console in ${instance} of ${app}`,
    userAgent: sessionUserAgent(options.sessionId, options.user),
  });
  const grace = Math.ceil(state.config.console.stopGraceMs / 100);
  console.setHooks({
    signal: (name) => signalByMarker(state, where, name, 0),
    kill: () => signalByMarker(state, where, 'TERM', grace),
  });
  trackConsole(state, console, {
    app,
    sessionId: options.sessionId,
    user: options.user,
    pod: podName,
    process: instance,
    pty: options.pty !== undefined,
  });
  return console;
}
