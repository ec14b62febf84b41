import { EventEmitter } from 'node:events';
import fsp from 'node:fs/promises';
import { APP_NAME_PATTERN } from '../types.js';
import { localPlatformConfigSchema, type LocalPlatformConfigInput } from './config.js';
import { createConfigStore } from './config-store.js';
import { createIsolation } from './isolation.js';
import { offerDemoApp } from './demo-app.js';
import type { LogBus } from './log-store.js';
import { localPaths } from './paths.js';
import { Supervisor } from './supervisor.js';
import type { LocalPlatformDeps, LocalPlatformState } from './types.js';

/**
 * Validates the config (throws on a bad one), creates the data dir layout (and the demo app on
 * first use) and makes the state every module shares. Starts no process.
 */
export async function createPlatformState(
  input: LocalPlatformConfigInput,
  deps: LocalPlatformDeps,
): Promise<LocalPlatformState> {
  const config = localPlatformConfigSchema.parse(input);
  const logger = deps.logger.child({ module: 'platform-local' });
  const paths = localPaths(config.dataDir);
  await fsp.mkdir(paths.appsDir, { recursive: true, mode: 0o755 });
  const nodePath = deps.nodePath ?? process.execPath;
  if (config.createDemoApp) await offerDemoApp(paths, nodePath, logger);
  const isolation = createIsolation(config, paths, logger, nodePath);
  const store = createConfigStore(paths, config.limits.lockTimeoutMs);
  const bus: LogBus = new EventEmitter();
  bus.setMaxListeners(0);
  const isAppName = (name: string) => APP_NAME_PATTERN.test(name);
  return {
    config,
    paths,
    logger,
    store,
    isolation,
    bus,
    supervisor: config.runProcesses
      ? new Supervisor(config, paths, store, isolation, bus, logger, isAppName)
      : undefined,
    closing: new AbortController(),
    consoles: new Set(),
  };
}
