/**
 * One-off consoles: a console pod made from the app's pod template (see console-pod-spec.ts),
 * created, awaited until it runs, exec'd into, and deleted when the console ends, fails or is
 * killed. While it lives it is in `livePods`, so the reaper keeps its heartbeat fresh.
 */
import { randomBytes } from 'node:crypto';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { abortError } from '../abort.js';
import { AppError, NotFound, Unavailable } from '../errors.js';
import type { Console, ConsoleOptions } from '../types.js';
import { processOf, requireApp } from './apps.js';
import { isApiError, toAppError } from './client.js';
import { configSecretName } from './config-vars.js';
import { ANNOTATIONS, buildConsolePod } from './console-pod-spec.js';
import { consoleArgv, newMarker, signalByMarker } from './console-process.js';
import { trackConsole } from './console-registry.js';
import { EVENTS } from './events.js';
import { startExec } from './exec.js';
import { sessionUserAgent } from './port-forward.js';
import { namespaceOf } from './namespaces.js';
import { deletePod, podPath, sleep, waitGone } from './pods.js';
import type { KubernetesPlatformState } from './types.js';

const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 500;
/** Container states that will not get better by waiting. */
const FATAL_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export async function openOneOffConsole(
  state: KubernetesPlatformState,
  app: string,
  options: ConsoleOptions,
): Promise<Console> {
  const ns = namespaceOf(state, app);
  const { deployments } = await requireApp(state, app);
  const pod = consolePodFor(state, app, ns, deployments, options);
  if (options.signal?.aborted) throw abortError(options.signal);
  const name = await createConsolePod(state, app, ns, pod, options.sessionId);
  const remove = removal(state, ns, name);
  try {
    options.onStatus?.(`waiting for console pod ${name} to start ...`);
    const running = await waitRunning(state, ns, name, options.signal);
    const container = running.spec?.containers[0]?.name ?? 'console';
    const marker = newMarker();
    const console = await startExec({
      client: state.client,
      namespace: ns,
      pod: name,
      container,
      argv: consoleArgv(state, options, marker),
      pty: options.pty,
      logger: state.logger,
      describe: `console for ${app}`,
      userAgent: sessionUserAgent(options.sessionId, options.user),
    });
    const where = { namespace: ns, pod: name, container, marker };
    console.setHooks({ signal: (sig) => signalByMarker(state, where, sig, 0), kill: remove });
    trackConsole(state, console, {
      app,
      sessionId: options.sessionId,
      user: options.user,
      pod: name,
      pty: options.pty !== undefined,
    });
    void console.done.then(remove);
    if (options.signal?.aborted) {
      console.kill();
      throw abortError(options.signal);
    }
    if (state.closing.signal.aborted) {
      console.kill();
      throw new Unavailable('the platform is shutting down');
    }
    return console;
  } catch (err) {
    void remove();
    throw err instanceof AppError || (err as { name?: string }).name === 'AbortError'
      ? err
      : toAppError(err, `console for ${app}`);
  }
}

/** The console pod, from the template of the default process type (else the first by name). */
function consolePodFor(
  state: KubernetesPlatformState,
  app: string,
  ns: string,
  deployments: readonly V1Deployment[],
  options: ConsoleOptions,
): V1Pod {
  const { config } = state;
  const sorted = [...deployments].sort((a, b) =>
    (processOf(state, a) ?? '').localeCompare(processOf(state, b) ?? ''),
  );
  const deployment =
    sorted.find((d) => processOf(state, d) === config.console.defaultProcess) ?? sorted[0];
  const template = deployment?.spec?.template;
  if (!deployment || !template) throw new NotFound(`app ${app} has no process to copy`);
  let pod: V1Pod;
  try {
    pod = buildConsolePod(
      {
        app,
        namespace: ns,
        process: processOf(state, deployment) ?? config.console.defaultProcess,
        template,
        sessionId: options.sessionId,
        suffix: randomBytes(4).toString('hex'),
        user: options.user,
        configSecret: configSecretName(state, app),
        now: state.now(),
      },
      config,
    );
  } catch (err) {
    throw new Unavailable(`app ${app} cannot have consoles: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (pod.metadata?.annotations) pod.metadata.annotations[ANNOTATIONS.owner] = state.owner;
  return pod;
}

/** Creates the pod and counts it live; returns its name. */
async function createConsolePod(
  { client, livePods, logger }: KubernetesPlatformState,
  app: string,
  ns: string,
  pod: V1Pod,
  sessionId: string,
): Promise<string> {
  let created: V1Pod;
  try {
    created = await client.request<V1Pod>('POST', `/api/v1/namespaces/${ns}/pods`, { body: pod });
  } catch (err) {
    throw toAppError(err, `console for ${app}`);
  }
  const name = created.metadata?.name ?? pod.metadata?.name ?? '';
  livePods.add(`${ns}/${name}`);
  logger.info({ app, namespace: ns, pod: name, sessionId }, EVENTS.consolePodCreated);
  return name;
}

/**
 * What removes the pod, called on the console's end, kill or failure: deletes it once however
 * often it is called, and counts it live until it is gone. `close()` awaits it.
 */
function removal(state: KubernetesPlatformState, ns: string, name: string): () => Promise<void> {
  let removing: Promise<void> | undefined;
  return () => {
    if (!removing) {
      const started = (async () => {
        await deletePod(state, ns, name);
        await waitGone(state, ns, name, 10_000);
        state.livePods.delete(`${ns}/${name}`);
      })();
      removing = started;
      state.removals.add(started);
      void started.finally(() => state.removals.delete(started));
    }
    return removing;
  };
}

/** Polls the console pod until it runs; throws a user-facing error when it will not. */
async function waitRunning(
  { client, config, closing }: KubernetesPlatformState,
  ns: string,
  name: string,
  signal: AbortSignal | undefined,
): Promise<V1Pod> {
  const deadline = Date.now() + config.console.startTimeoutMs;
  let delay = POLL_FIRST_MS;
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    if (closing.signal.aborted) throw new Unavailable('the platform is shutting down');
    let pod: V1Pod;
    try {
      pod = await client.request<V1Pod>('GET', podPath(ns, name));
    } catch (err) {
      if (isApiError(err, 404))
        throw new Unavailable('the console pod was deleted before it started');
      throw toAppError(err, 'console pod');
    }
    const phase = pod.status?.phase;
    if (phase === 'Running') return pod;
    if (phase === 'Failed' || phase === 'Succeeded') {
      throw new Unavailable(
        `the console pod ended before it was ready${pod.status?.reason ? ` (${pod.status.reason})` : ''}`,
      );
    }
    const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
    if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
      throw new Unavailable(
        `the console pod cannot start: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new Unavailable(
        `the console pod did not start within ${Math.round(config.console.startTimeoutMs / 1000)} s; try again later`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, POLL_MAX_MS);
  }
}
