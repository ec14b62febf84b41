/**
 * The local platform, the embedded default: apps are folders under `<dataDir>/apps/` with a
 * Procfile, their processes are local process groups, consoles are local processes (on pipes
 * or a pty), logs are files, config vars are JSON files. Several processes on one host may use
 * the same data dir (the server that runs the apps, a bastion-only server, admin commands).
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Logger } from 'pino';
import { BadRequest, NotFound, Unavailable } from '../errors.js';
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
  localPlatformConfigSchema,
  type LocalPlatformConfig,
  type LocalPlatformConfigInput,
} from './config.js';
import { createConfigStore } from './config-store.js';
import { spawnConsole, type LocalConsole } from './console.js';
import { DEMO_APP, writeDemoApp } from './demo-app.js';
import { EVENTS } from './events.js';
import { claimOwnership, readFileIfExists } from './files.js';
import { API_PROCESS, PLATFORM_SOURCE, appendShared, readLogs, type LogBus } from './log-store.js';
import { localPaths, type LocalPaths } from './paths.js';
import { parseProcfile } from './procfile.js';
import { processExists } from './signals.js';
import { Supervisor, type RunRecord } from './supervisor.js';

export interface LocalPlatformDeps {
  readonly logger: Logger;
  /** The node binary the demo app's Procfile runs (default: this process's). */
  readonly nodePath?: string;
}

export interface LocalPlatform extends Platform {
  readonly config: LocalPlatformConfig;
  /** The folder of an app (the name is validated, the folder need not exist). */
  appDir(app: string): string;
  /** Start new apps / restart changed ones now rather than at the next periodic scan. */
  rescan(): Promise<void>;
}

const LOGIN_SHELL_FLAG = '-l';
const COMMAND_SHELL = '/bin/sh';

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

/** The environment of a running process, as the kernel has it (Linux). */
async function processEnvironment(pid: number): Promise<Record<string, string> | undefined> {
  try {
    const raw = await fsp.readFile(`/proc/${pid}/environ`, 'utf8');
    const env: Record<string, string> = {};
    for (const entry of raw.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return undefined;
  }
}

/**
 * Creates the data dir layout (and the demo app on first use), starts the apps' processes when
 * `runProcesses` is set, and returns the platform. `close()` stops everything it started.
 */
export async function createLocalPlatform(
  input: LocalPlatformConfigInput,
  deps: LocalPlatformDeps,
): Promise<LocalPlatform> {
  const config = localPlatformConfigSchema.parse(input);
  const logger = deps.logger.child({ module: 'platform-local' });
  const paths = localPaths(config.dataDir);
  await fsp.mkdir(paths.appsDir, { recursive: true, mode: 0o755 });

  if (config.createDemoApp && !fs.existsSync(paths.demoMarker)) {
    if (!fs.existsSync(paths.appDir(DEMO_APP))) {
      await writeDemoApp(paths.appDir(DEMO_APP), deps.nodePath ?? process.execPath);
      logger.info({ app: DEMO_APP }, EVENTS.demoAppCreated);
    }
    await fsp.writeFile(paths.demoMarker, `${new Date().toISOString()}\n`, { mode: 0o600 });
  }

  const store = createConfigStore(paths, config.limits.lockTimeoutMs);
  const bus: LogBus = new EventEmitter();
  bus.setMaxListeners(0);
  const consoles = new Set<LocalConsole>();
  const closing = new AbortController();
  const isAppName = (name: string) => APP_NAME_PATTERN.test(name);
  const supervisor = config.runProcesses
    ? new Supervisor(config, paths, store, bus, logger, isAppName)
    : undefined;
  let closed: Promise<void> | undefined;
  let releaseSupervisor: (() => void) | undefined;

  async function requireApp(app: string): Promise<AppInfo> {
    checkAppName(app);
    const procfile = await readFileIfExists(paths.procfile(app)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (procfile === undefined) throw new NotFound(`app ${app} not found`);
    return { name: app, processTypes: parseProcfile(procfile).map((e) => e.type) };
  }

  async function readRunFile(app: string): Promise<RunRecord[] | undefined> {
    const text = await readFileIfExists(paths.runFile(app));
    if (!text) return undefined;
    try {
      const parsed = JSON.parse(text) as { supervisorPid?: number; instances?: RunRecord[] };
      if (typeof parsed.supervisorPid !== 'number' || !processExists(parsed.supervisorPid)) {
        return undefined;
      }
      return Array.isArray(parsed.instances) ? parsed.instances : undefined;
    } catch {
      return undefined;
    }
  }

  /** The running instance a console targets, with its environment. */
  async function resolveTarget(
    app: string,
    target: { process?: string; pod?: string },
  ): Promise<{ name: string; env: Record<string, string> }> {
    const what = target.pod ?? target.process ?? '';
    const notFound = () =>
      new NotFound(`no running process ${what} in app ${app}`, { code: 'process_not_found' });
    if (supervisor) {
      const found = supervisor.runningInstance(app, target);
      if (!found) throw notFound();
      return { name: found.name, env: (await processEnvironment(found.pid)) ?? found.env };
    }
    const records = (await readRunFile(app)) ?? [];
    const record = records.find(
      (r) =>
        r.state === 'running' &&
        r.pid !== undefined &&
        processExists(r.pid) &&
        (target.pod === undefined || r.name === target.pod) &&
        (target.process === undefined || r.type === target.process),
    );
    if (!record || record.pid === undefined) throw notFound();
    const env = await processEnvironment(record.pid);
    if (env) return { name: record.name, env };
    const { vars } = await store.get(app);
    return {
      name: record.name,
      env: { ...config.baseEnv, ...vars, PORT: String(record.port), DYNO: record.name },
    };
  }

  const platform: LocalPlatform = {
    config,

    appDir(app: string): string {
      checkAppName(app);
      return paths.appDir(app);
    },

    async rescan(): Promise<void> {
      await supervisor?.scan();
    },

    async listApps(): Promise<AppInfo[]> {
      const names = (await fsp.readdir(paths.appsDir)).filter(isAppName).sort();
      const apps: AppInfo[] = [];
      for (const name of names) {
        try {
          apps.push(await requireApp(name));
        } catch (err) {
          if (!(err instanceof NotFound)) throw err;
        }
      }
      return apps;
    },

    getApp: requireApp,

    async listProcesses(app: string): Promise<ProcessInfo[]> {
      const info = await requireApp(app);
      const fromSupervisor = supervisor?.processes(app);
      if (fromSupervisor) return fromSupervisor;
      const records = supervisor ? undefined : await readRunFile(app);
      if (records) {
        return records.map((r) => {
          const alive = r.pid !== undefined && processExists(r.pid);
          const state = r.state === 'running' && !alive ? 'stopped' : r.state;
          return {
            name: r.name,
            type: r.type,
            state,
            ...(state === 'running' && r.startedAt ? { startedAt: new Date(r.startedAt) } : {}),
          };
        });
      }
      return info.processTypes.map((type) => ({ name: `${type}.1`, type, state: 'stopped' }));
    },

    async openConsole(app: string, options: ConsoleOptions): Promise<Console> {
      await requireApp(app);
      if (closing.signal.aborted) throw new Unavailable('the platform is shutting down');
      const target = options.target;
      let env: Record<string, string>;
      let instance: string | undefined;
      if (target && (target.process !== undefined || target.pod !== undefined)) {
        const found = await resolveTarget(app, target);
        instance = found.name;
        env = found.env;
      } else {
        const { vars } = await store.get(app);
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
        cwd: paths.appDir(app),
        env: { ...env, ...options.env, SHELL: shell },
        ...(options.pty ? { pty: options.pty } : {}),
        stopGraceMs: config.limits.stopGraceMs,
        logger,
      });
      const fields = {
        app,
        sessionId: options.sessionId,
        user: options.user,
        pid: console.pid,
        pty: options.pty !== undefined,
        ...(instance ? { process: instance } : {}),
      };
      logger.info(fields, EVENTS.consoleStarted);
      consoles.add(console);
      void console.done.then((status) => {
        consoles.delete(console);
        logger.info({ ...fields, ...status }, EVENTS.consoleEnded);
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
    },

    streamLogs(app: string, options: LogOptions): AsyncIterable<LogLine> {
      const logStore = {
        maxLogFileBytes: config.limits.maxLogFileBytes,
        pollMs: config.limits.logPollMs,
      };
      // Not an async generator: its return() would wait for a follower's pending next().
      return {
        [Symbol.asyncIterator](): AsyncIterator<LogLine> {
          let inner: AsyncIterator<LogLine> | undefined;
          let ended = false;
          // Ends on the caller's abort or on close(); listeners are removed at the end (no
          // AbortSignal.any: it leaks on Node 20 with a long-lived signal).
          const stop = new AbortController();
          const onAbort = () => stop.abort();
          const release = () => {
            ended = true;
            options.signal?.removeEventListener('abort', onAbort);
            closing.signal.removeEventListener('abort', onAbort);
          };
          return {
            async next() {
              if (ended) return { value: undefined, done: true };
              if (!inner) {
                try {
                  await requireApp(app);
                } catch (err) {
                  release();
                  throw err;
                }
                if (options.signal?.aborted || closing.signal.aborted) stop.abort();
                options.signal?.addEventListener('abort', onAbort, { once: true });
                closing.signal.addEventListener('abort', onAbort, { once: true });
                inner = readLogs(
                  paths.appLogDir(app),
                  app,
                  { ...options, signal: stop.signal },
                  logStore,
                  bus,
                )[Symbol.asyncIterator]();
              }
              const result = await inner.next();
              if (result.done) release();
              return result;
            },
            async return() {
              release();
              await inner?.return?.();
              return { value: undefined, done: true };
            },
          };
        },
      };
    },

    async getConfigVars(app: string): Promise<ConfigVars> {
      await requireApp(app);
      const { vars, version } = await store.get(app);
      return { vars, version };
    },

    async updateConfigVars(
      app: string,
      change: ConfigChange,
      options?: ConfigUpdateOptions,
    ): Promise<ConfigVars> {
      await requireApp(app);
      const restart = options?.restart ?? true;
      const result = await store.update(app, change, {
        restart,
        ...(options?.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
      });
      const { setKeys, unsetKeys, after } = result;
      if (setKeys.length > 0 || unsetKeys.length > 0) {
        // Names only: values are secrets.
        logger.info({ app, set: setKeys, unset: unsetKeys, restart }, EVENTS.configVarsChanged);
        const parts = [
          ...(setKeys.length > 0 ? [`Set ${setKeys.join(', ')}`] : []),
          ...(unsetKeys.length > 0 ? [`Unset ${unsetKeys.join(', ')}`] : []),
        ];
        const reason = `${parts.join('; ')} config vars`;
        try {
          appendShared(
            `${paths.appLogDir(app)}/${API_PROCESS}.log`,
            config.limits.maxLogFileBytes,
            {
              time: new Date(),
              source: PLATFORM_SOURCE,
              process: API_PROCESS,
              line: reason,
            },
          );
          bus.emit('append', app);
        } catch (err) {
          logger.warn({ err, app }, EVENTS.logWriteFailed);
        }
        await supervisor?.configChanged(app, after.version, restart);
      }
      return { vars: after.vars, version: after.version };
    },

    close(): Promise<void> {
      closed ??= (async () => {
        closing.abort();
        const ending = [...consoles].map((c) => {
          c.kill();
          return c.done;
        });
        // The KILL timers are unref'd; a shutting-down server must stay up until they fired.
        const keepAlive = setInterval(() => undefined, 1000);
        try {
          await supervisor?.close();
          releaseSupervisor?.();
          await Promise.all(ending);
        } finally {
          clearInterval(keepAlive);
        }
        logger.info(EVENTS.closed);
      })();
      return closed;
    },
  };

  if (supervisor) {
    const release = await claimOwnership(paths.supervisorFile, `runs the apps of ${paths.dataDir}`);
    try {
      await supervisor.start();
    } catch (err) {
      await supervisor.close();
      release();
      throw err;
    }
    releaseSupervisor = release;
  }
  logger.info({ dataDir: paths.dataDir, runProcesses: config.runProcesses }, EVENTS.started);
  return platform;
}

export type { LocalPaths };
