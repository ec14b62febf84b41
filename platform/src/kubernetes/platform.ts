/**
 * The kubernetes platform: apps are Deployments labelled with the app (and process type) in a
 * namespace per app or a shared one; consoles are one-off pods made from an app's pod template,
 * or execs into its running pods; logs come from `pods/log`; config vars live in a Secret.
 */
import { randomBytes } from 'node:crypto';
import type { V1Deployment, V1DeploymentList, V1Pod, V1PodList } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AppError, BadRequest, NotFound, Unavailable } from '../errors.js';
import {
  APP_NAME_PATTERN,
  type AppInfo,
  type ConfigChange,
  type ConfigUpdateOptions,
  type ConfigVars,
  type Console,
  type ConsoleOptions,
  type LogLine,
  type LogOptions,
  type Platform,
  type ProcessInfo,
} from '../types.js';
import {
  createKubeClient,
  isApiError,
  loadKubeConfig,
  toAppError,
  type KubeClient,
} from './client.js';
import {
  kubernetesPlatformConfigSchema,
  type KubernetesPlatformConfig,
  type KubernetesPlatformConfigInput,
} from './config.js';
import { getConfigVars, updateConfigVars, type ConfigSecretRef } from './config-vars.js';
import { ANNOTATIONS, buildConsolePod } from './console-pod.js';
import { EVENTS } from './events.js';
import { startExec, type ExecConsole } from './exec.js';
import { streamPodLogs } from './logs.js';

export interface KubernetesPlatformDeps {
  readonly logger: Logger;
  /** A ready client (tests); default: one made from the config's kubeconfig or in-cluster. */
  readonly client?: KubeClient;
  readonly now?: () => Date;
}

export interface KubernetesPlatform extends Platform {
  readonly config: KubernetesPlatformConfig;
  /** The namespace of an app (the name is validated). */
  namespaceOf(app: string): string;
  /**
   * Deletes console pods whose session is not live in this process, that are older than the
   * grace period and whose heartbeat is stale (or that already ended). Returns their names.
   */
  reapOrphans(): Promise<string[]>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MARKER_VAR = 'NEETODEPLOY_CONSOLE_ID';
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

/**
 * Signals the processes of one console, found by the marker variable in their environment
 * (inherited by everything the console starts), since exec has no signal channel. With a
 * grace (tenths of a second), waits that long for them to go, then KILLs what is left.
 */
const KILL_SCRIPT = [
  'pids() { for f in $(grep -lsF "$1" /proc/[0-9]*/environ 2>/dev/null); do f=${f#/proc/}; echo ${f%/environ}; done; }',
  'p=$(pids "$1"); [ -n "$p" ] && kill -s "$2" $p 2>/dev/null',
  'i=0; while [ "$i" -lt "$3" ] && [ -n "$(pids "$1")" ]; do sleep 0.1; i=$((i+1)); done',
  'if [ "$3" -gt 0 ]; then p=$(pids "$1"); [ -n "$p" ] && kill -s KILL $p 2>/dev/null; fi',
  'exit 0',
].join('\n');

function checkAppName(app: string): void {
  if (typeof app !== 'string' || !APP_NAME_PATTERN.test(app)) {
    const shown = typeof app === 'string' ? JSON.stringify(app.slice(0, 64)) : 'that';
    throw new BadRequest(
      `${shown} is not a valid app name (lowercase letters, digits and dashes, at most 63)`,
    );
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The console was cancelled', 'AbortError');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The short unique part of a pod name: `web-5d8f7-x7k2p` → `x7k2p`. */
function podSuffix(pod: string): string {
  const dash = pod.lastIndexOf('-');
  return dash >= 0 && dash < pod.length - 1 ? pod.slice(dash + 1) : pod;
}

// Async although nothing inside awaits yet: a bad config must reject like any other failure.
// eslint-disable-next-line @typescript-eslint/require-await
export async function createKubernetesPlatform(
  input: KubernetesPlatformConfigInput,
  deps: KubernetesPlatformDeps,
): Promise<KubernetesPlatform> {
  const config = kubernetesPlatformConfigSchema.parse(input);
  const logger = deps.logger.child({ module: 'platform-kubernetes' });
  const now = deps.now ?? (() => new Date());
  const client =
    deps.client ??
    createKubeClient(
      loadKubeConfig({ kubeconfigPath: config.kubeconfigPath, context: config.context }),
      config.requestTimeoutMs,
    );
  const labels = config.labels;
  const closing = new AbortController();
  /** Live one-off console pods of this process: `namespace/name`. */
  const livePods = new Set<string>();
  const consoles = new Set<ExecConsole>();
  /** Console pod deletions under way, awaited by close(). */
  const removals = new Set<Promise<void>>();
  const owner = randomBytes(8).toString('hex');
  let closed: Promise<void> | undefined;

  function namespaceOf(app: string): string {
    checkAppName(app);
    if (config.namespaces.mode === 'shared') return config.namespaces.namespace;
    const ns = `${config.namespaces.prefix}${app}`;
    if (ns.length > 63) throw new BadRequest(`app name ${app} is too long for this platform`);
    return ns;
  }

  const appSelector = (app: string) => `${labels.app}=${app}`;

  async function deploymentsOf(app: string): Promise<V1Deployment[]> {
    const ns = namespaceOf(app);
    try {
      const list = await client.request<V1DeploymentList>(
        'GET',
        `/apis/apps/v1/namespaces/${ns}/deployments`,
        { query: { labelSelector: appSelector(app) } },
      );
      return list.items;
    } catch (err) {
      throw toAppError(err, `app ${app}`);
    }
  }

  const processOf = (d: { metadata?: { labels?: Record<string, string> } }) =>
    d.metadata?.labels?.[labels.process];

  function appInfo(app: string, deployments: readonly V1Deployment[]): AppInfo {
    const types = new Set<string>();
    for (const d of deployments) {
      const type = processOf(d);
      if (type) types.add(type);
    }
    return { name: app, processTypes: [...types].sort() };
  }

  async function requireApp(app: string): Promise<{ info: AppInfo; deployments: V1Deployment[] }> {
    const deployments = await deploymentsOf(app);
    if (deployments.length === 0) throw new NotFound(`app ${app} not found`);
    return { info: appInfo(app, deployments), deployments };
  }

  async function appPods(app: string, process?: string): Promise<V1Pod[]> {
    const selector = process
      ? `${appSelector(app)},${labels.process}=${process}`
      : appSelector(app);
    try {
      const list = await client.request<V1PodList>(
        'GET',
        `/api/v1/namespaces/${namespaceOf(app)}/pods`,
        {
          query: { labelSelector: selector },
        },
      );
      return list.items;
    } catch (err) {
      throw toAppError(err, `processes of ${app}`);
    }
  }

  const instanceName = (pod: V1Pod) =>
    `${processOf(pod) ?? 'pod'}.${podSuffix(pod.metadata?.name ?? '')}`;

  function podState(pod: V1Pod): ProcessInfo['state'] {
    const phase = pod.status?.phase;
    const statuses = pod.status?.containerStatuses ?? [];
    if (phase === 'Failed') return 'crashed';
    if (phase === 'Succeeded' || pod.metadata?.deletionTimestamp) return 'stopped';
    if (statuses.some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff')) return 'crashed';
    if (phase === 'Running' && statuses.every((c) => c.state?.running)) return 'running';
    return 'starting';
  }

  function secretRef(app: string): ConfigSecretRef {
    return {
      namespace: namespaceOf(app),
      name: config.configSecretName.replaceAll('{app}', app),
      app,
      appLabel: labels.app,
    };
  }

  const podPath = (ns: string, name: string) =>
    `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;

  async function deletePod(ns: string, name: string, graceSeconds?: number): Promise<void> {
    try {
      await client.request('DELETE', podPath(ns, name), {
        ...(graceSeconds !== undefined ? { query: { gracePeriodSeconds: graceSeconds } } : {}),
      });
      logger.info({ namespace: ns, pod: name }, EVENTS.consolePodDeleted);
    } catch (err) {
      if (isApiError(err, 404)) return;
      logger.warn({ err, namespace: ns, pod: name }, EVENTS.consolePodDeleteFailed);
    }
  }

  /** Resolves once the pod is gone (or after `ms`). */
  async function waitGone(ns: string, name: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      try {
        await client.request('GET', podPath(ns, name));
      } catch (err) {
        if (isApiError(err, 404)) return;
      }
      await sleep(100);
    }
  }

  /** Polls the console pod until it runs; throws a user-facing error when it will not. */
  async function waitRunning(
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

  /** Runs the marker kill script in `pod` (a second exec) and waits for it. */
  async function signalByMarker(
    ns: string,
    pod: string,
    container: string,
    marker: string,
    signal: string,
    graceTenths: number,
  ): Promise<void> {
    const killer = await startExec({
      client,
      namespace: ns,
      pod,
      container,
      argv: [
        '/bin/sh',
        '-c',
        KILL_SCRIPT,
        'neetodeploy-signal',
        marker,
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

  function consoleArgv(options: ConsoleOptions, marker: string): string[] {
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

  function track(console: ExecConsole, fields: Record<string, unknown>): void {
    logger.info(fields, EVENTS.consoleStarted);
    consoles.add(console);
    void console.done.then((status) => {
      consoles.delete(console);
      logger.info({ ...fields, ...status }, EVENTS.consoleEnded);
    });
  }

  async function execIntoRunning(app: string, options: ConsoleOptions): Promise<Console> {
    const ns = namespaceOf(app);
    const target = options.target ?? {};
    const what = target.pod ?? target.process ?? '';
    const notFound = () =>
      new NotFound(`no running process ${what} in app ${app}`, { code: 'process_not_found' });
    let pods = await appPods(app, target.process);
    if (target.pod !== undefined) {
      pods = pods.filter((p) => p.metadata?.name === target.pod || instanceName(p) === target.pod);
    }
    const running = pods
      .filter((p) => podState(p) === 'running')
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    const pod = running[0];
    const container = pod?.spec?.containers[0]?.name;
    if (!pod?.metadata?.name || !container) throw notFound();
    const podName = pod.metadata.name;
    const marker = randomBytes(16).toString('hex');
    if (options.signal?.aborted) throw abortError(options.signal);
    const console = await startExec({
      client,
      namespace: ns,
      pod: podName,
      container,
      argv: consoleArgv(options, marker),
      pty: options.pty,
      logger,
      describe: `console in ${instanceName(pod)} of ${app}`,
    });
    const grace = Math.ceil(config.console.stopGraceMs / 100);
    console.setHooks({
      signal: (name) => signalByMarker(ns, podName, container, marker, name, 0),
      kill: () => signalByMarker(ns, podName, container, marker, 'TERM', grace),
    });
    track(console, {
      app,
      sessionId: options.sessionId,
      user: options.user,
      pod: podName,
      process: instanceName(pod),
      pty: options.pty !== undefined,
    });
    return console;
  }

  async function oneOffConsole(app: string, options: ConsoleOptions): Promise<Console> {
    const ns = namespaceOf(app);
    const { deployments } = await requireApp(app);
    const sorted = [...deployments].sort((a, b) =>
      (processOf(a) ?? '').localeCompare(processOf(b) ?? ''),
    );
    const deployment =
      sorted.find((d) => processOf(d) === config.console.defaultProcess) ?? sorted[0];
    const template = deployment?.spec?.template;
    if (!deployment || !template) throw new NotFound(`app ${app} has no process to copy`);
    const process = processOf(deployment) ?? config.console.defaultProcess;
    let pod: V1Pod;
    try {
      pod = buildConsolePod(
        {
          app,
          namespace: ns,
          process,
          template,
          sessionId: options.sessionId,
          suffix: randomBytes(4).toString('hex'),
          user: options.user,
          configSecret: secretRef(app).name,
          now: now(),
        },
        config,
      );
    } catch (err) {
      throw new Unavailable(`app ${app} cannot have consoles: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (pod.metadata?.annotations) pod.metadata.annotations[ANNOTATIONS.owner] = owner;
    if (options.signal?.aborted) throw abortError(options.signal);
    let created: V1Pod;
    try {
      created = await client.request<V1Pod>('POST', `/api/v1/namespaces/${ns}/pods`, { body: pod });
    } catch (err) {
      throw toAppError(err, `console for ${app}`);
    }
    const name = created.metadata?.name ?? pod.metadata?.name ?? '';
    const key = `${ns}/${name}`;
    livePods.add(key);
    logger.info(
      { app, namespace: ns, pod: name, sessionId: options.sessionId },
      EVENTS.consolePodCreated,
    );
    let removal: Promise<void> | undefined;
    const remove = () => {
      if (!removal) {
        removal = (async () => {
          await deletePod(ns, name);
          await waitGone(ns, name, 10_000);
          livePods.delete(key);
        })();
        removals.add(removal);
        void removal.finally(() => removals.delete(removal!));
      }
      return removal;
    };
    try {
      options.onStatus?.(`waiting for console pod ${name} to start ...`);
      const running = await waitRunning(ns, name, options.signal);
      const container = running.spec?.containers[0]?.name ?? 'console';
      const marker = randomBytes(16).toString('hex');
      const console = await startExec({
        client,
        namespace: ns,
        pod: name,
        container,
        argv: consoleArgv(options, marker),
        pty: options.pty,
        logger,
        describe: `console for ${app}`,
      });
      console.setHooks({
        signal: (sig) => signalByMarker(ns, name, container, marker, sig, 0),
        kill: remove,
      });
      track(console, {
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
      if (closing.signal.aborted) {
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

  async function heartbeat(): Promise<void> {
    const stamp = now().toISOString();
    await Promise.all(
      [...livePods].map(async (key) => {
        const [ns, name] = key.split('/') as [string, string];
        try {
          await client.request('PATCH', podPath(ns, name), {
            body: { metadata: { annotations: { [ANNOTATIONS.heartbeat]: stamp } } },
            contentType: 'application/merge-patch+json',
          });
        } catch (err) {
          if (!isApiError(err, 404))
            logger.warn({ err, namespace: ns, pod: name }, EVENTS.heartbeatFailed);
        }
      }),
    );
  }

  async function consolePods(): Promise<V1Pod[]> {
    const selector = `${labels.console}=true`;
    if (config.namespaces.mode === 'shared') {
      const list = await client.request<V1PodList>(
        'GET',
        `/api/v1/namespaces/${config.namespaces.namespace}/pods`,
        { query: { labelSelector: selector } },
      );
      return list.items;
    }
    const prefix = config.namespaces.prefix;
    const items = await listAcrossAppNamespaces<V1Pod>('/api/v1', 'pods', selector);
    return items.filter((p) => (p.metadata?.namespace ?? '').startsWith(prefix));
  }

  /**
   * Per-app mode: one list per configured app namespace, or one cluster-wide list when the
   * namespaces are not configured (which needs a ClusterRole).
   */
  async function listAcrossAppNamespaces<T>(
    apiPrefix: string,
    resource: string,
    labelSelector: string,
  ): Promise<T[]> {
    const namespaces =
      config.namespaces.mode === 'per-app' ? config.namespaces.appNamespaces : undefined;
    const paths = namespaces
      ? namespaces.map((ns) => `${apiPrefix}/namespaces/${ns}/${resource}`)
      : [`${apiPrefix}/${resource}`];
    const lists = await Promise.all(
      paths.map((p) => client.request<{ items: T[] }>('GET', p, { query: { labelSelector } })),
    );
    return lists.flatMap((l) => l.items);
  }

  async function reapOrphans(): Promise<string[]> {
    const reaped: string[] = [];
    const at = now().getTime();
    for (const pod of await consolePods()) {
      const ns = pod.metadata?.namespace ?? '';
      const name = pod.metadata?.name ?? '';
      if (livePods.has(`${ns}/${name}`) || pod.metadata?.deletionTimestamp) continue;
      const phase = pod.status?.phase;
      const ended = phase === 'Succeeded' || phase === 'Failed';
      const created = Date.parse(String(pod.metadata?.creationTimestamp ?? ''));
      const beat = Date.parse(pod.metadata?.annotations?.[ANNOTATIONS.heartbeat] ?? '');
      const old = !Number.isFinite(created) || at - created >= config.reaper.graceMs;
      const stale = !Number.isFinite(beat) || at - beat >= config.reaper.staleAfterMs;
      if (ended || (old && stale)) {
        await deletePod(ns, name);
        logger.info({ namespace: ns, pod: name, phase }, EVENTS.orphanReaped);
        reaped.push(`${ns}/${name}`);
      }
    }
    return reaped;
  }

  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<unknown>, event: string) => {
    if (ms <= 0) return;
    const timer = setInterval(() => {
      fn().catch((err: unknown) => logger.warn({ err }, event));
    }, ms);
    timer.unref();
    timers.push(timer);
  };
  every(config.reaper.heartbeatIntervalMs, heartbeat, EVENTS.heartbeatFailed);
  every(config.reaper.intervalMs, reapOrphans, EVENTS.reaperFailed);

  const platform: KubernetesPlatform = {
    config,
    namespaceOf,
    reapOrphans,

    async listApps(): Promise<AppInfo[]> {
      let deployments: V1Deployment[];
      try {
        deployments =
          config.namespaces.mode === 'shared'
            ? (
                await client.request<V1DeploymentList>(
                  'GET',
                  `/apis/apps/v1/namespaces/${config.namespaces.namespace}/deployments`,
                  { query: { labelSelector: labels.app } },
                )
              ).items
            : await listAcrossAppNamespaces<V1Deployment>(
                '/apis/apps/v1',
                'deployments',
                labels.app,
              );
      } catch (err) {
        throw toAppError(err, 'apps');
      }
      const byApp = new Map<string, V1Deployment[]>();
      for (const d of deployments) {
        const app = d.metadata?.labels?.[labels.app];
        if (!app || !APP_NAME_PATTERN.test(app)) continue;
        if (
          config.namespaces.mode === 'per-app' &&
          d.metadata?.namespace !== `${config.namespaces.prefix}${app}`
        ) {
          continue;
        }
        byApp.set(app, [...(byApp.get(app) ?? []), d]);
      }
      return [...byApp.keys()].sort().map((app) => appInfo(app, byApp.get(app) ?? []));
    },

    async getApp(app: string): Promise<AppInfo> {
      return (await requireApp(app)).info;
    },

    async listProcesses(app: string): Promise<ProcessInfo[]> {
      await requireApp(app);
      const pods = await appPods(app);
      return pods
        .map((pod): ProcessInfo => {
          const started = pod.status?.startTime;
          return {
            name: instanceName(pod),
            type: processOf(pod) ?? 'pod',
            state: podState(pod),
            pod: pod.metadata?.name ?? '',
            ...(started ? { startedAt: new Date(started) } : {}),
          };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async openConsole(app: string, options: ConsoleOptions): Promise<Console> {
      checkAppName(app);
      if (closing.signal.aborted) throw new Unavailable('the platform is shutting down');
      const target = options.target;
      if (target && (target.process !== undefined || target.pod !== undefined)) {
        await requireApp(app);
        return execIntoRunning(app, options);
      }
      return oneOffConsole(app, options);
    },

    streamLogs(app: string, options: LogOptions): AsyncIterable<LogLine> {
      return {
        [Symbol.asyncIterator](): AsyncIterator<LogLine> {
          let inner: AsyncIterator<LogLine> | undefined;
          let ended = false;
          return {
            async next() {
              if (ended) return { value: undefined, done: true };
              if (!inner) {
                try {
                  await requireApp(app);
                } catch (err) {
                  ended = true;
                  throw err;
                }
                if (ended) return { value: undefined, done: true };
                const selector = options.process
                  ? `${appSelector(app)},${labels.process}=${options.process}`
                  : appSelector(app);
                inner = streamPodLogs(
                  {
                    client,
                    namespace: namespaceOf(app),
                    labelSelector: selector,
                    maxStreams: config.logs.maxStreams,
                    reconnectDelayMs: config.logs.reconnectDelayMs,
                    logger,
                    processName: instanceName,
                    closing: closing.signal,
                  },
                  options,
                )[Symbol.asyncIterator]();
              }
              try {
                const result = await inner.next();
                if (result.done) ended = true;
                return result;
              } catch (err) {
                ended = true;
                throw toAppError(err, `logs of ${app}`);
              }
            },
            async return() {
              ended = true;
              await inner?.return?.();
              return { value: undefined, done: true };
            },
          };
        },
      };
    },

    async getConfigVars(app: string): Promise<ConfigVars> {
      await requireApp(app);
      return getConfigVars(client, secretRef(app));
    },

    async updateConfigVars(
      app: string,
      change: ConfigChange,
      options?: ConfigUpdateOptions,
    ): Promise<ConfigVars> {
      const { deployments } = await requireApp(app);
      const restart = options?.restart ?? true;
      const result = await updateConfigVars(client, secretRef(app), change, {
        ifMatch: options?.ifMatch,
        maxRetries: config.maxConflictRetries,
        logger,
      });
      const { setKeys, unsetKeys } = result;
      if (setKeys.length > 0 || unsetKeys.length > 0) {
        // Names only: values are secrets.
        logger.info({ app, set: setKeys, unset: unsetKeys, restart }, EVENTS.configVarsChanged);
        if (restart) await rollingRestart(app, deployments);
      }
      return { vars: result.vars, version: result.version };
    },

    close(): Promise<void> {
      closed ??= (async () => {
        closing.abort();
        for (const timer of timers) clearInterval(timer);
        const ending = [...consoles].map((c) => {
          c.kill();
          return c.done;
        });
        await Promise.all(ending);
        await Promise.all([...removals]);
        if (!deps.client) client.close();
        logger.info(EVENTS.closed);
      })();
      return closed;
    },
  };

  /** Bumps the restart annotation of each Deployment's pod template, as `kubectl rollout restart`. */
  async function rollingRestart(app: string, deployments: readonly V1Deployment[]): Promise<void> {
    const stamp = now().toISOString();
    await Promise.all(
      deployments.map(async (d) => {
        const name = d.metadata?.name ?? '';
        try {
          await client.request(
            'PATCH',
            `/apis/apps/v1/namespaces/${namespaceOf(app)}/deployments/${encodeURIComponent(name)}`,
            {
              body: {
                spec: {
                  template: { metadata: { annotations: { [config.restartAnnotation]: stamp } } },
                },
              },
              contentType: 'application/strategic-merge-patch+json',
            },
          );
        } catch (err) {
          throw toAppError(err, `restart of ${app}`);
        }
      }),
    );
    logger.info(
      { app, deployments: deployments.map((d) => d.metadata?.name) },
      EVENTS.rollingRestart,
    );
  }

  logger.info({ namespaces: config.namespaces.mode }, EVENTS.started);
  return platform;
}
