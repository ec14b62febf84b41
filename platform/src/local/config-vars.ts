/**
 * An app's config vars: the config store's JSON file, a line in the app's log saying what
 * changed (names only), and a restart of its processes by the supervisor.
 */
import type { ConfigChange, ConfigUpdateOptions, ConfigVars } from '../types.js';
import { requireApp } from './apps.js';
import { EVENTS } from './events.js';
import { API_PROCESS, PLATFORM_SOURCE, appendShared } from './log-store.js';
import type { LocalPlatformState } from './types.js';

export async function getAppConfigVars(
  state: LocalPlatformState,
  app: string,
): Promise<ConfigVars> {
  await requireApp(state, app);
  const { vars, version } = await state.store.get(app);
  return { vars, version };
}

export async function updateAppConfigVars(
  state: LocalPlatformState,
  app: string,
  change: ConfigChange,
  options?: ConfigUpdateOptions,
): Promise<ConfigVars> {
  await requireApp(state, app);
  const restart = options?.restart ?? true;
  const result = await state.store.update(app, change, {
    restart,
    ...(options?.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
  });
  const { setKeys, unsetKeys, after } = result;
  if (setKeys.length > 0 || unsetKeys.length > 0) {
    // Names only: values are secrets.
    state.logger.info({ app, set: setKeys, unset: unsetKeys, restart }, EVENTS.configVarsChanged);
    logChange(state, app, setKeys, unsetKeys);
    await state.supervisor?.configChanged(app, after.version, restart);
  }
  return { vars: after.vars, version: after.version };
}

/** "Set A, B; Unset C config vars" in the app's log, as Heroku's release line. */
function logChange(
  { bus, config, logger, paths }: LocalPlatformState,
  app: string,
  setKeys: readonly string[],
  unsetKeys: readonly string[],
): void {
  const parts = [
    ...(setKeys.length > 0 ? [`Set ${setKeys.join(', ')}`] : []),
    ...(unsetKeys.length > 0 ? [`Unset ${unsetKeys.join(', ')}`] : []),
  ];
  try {
    appendShared(`${paths.appLogDir(app)}/${API_PROCESS}.log`, config.limits.maxLogFileBytes, {
      time: new Date(),
      source: PLATFORM_SOURCE,
      process: API_PROCESS,
      line: `${parts.join('; ')} config vars`,
    });
    bus.emit('append', app);
  } catch (err) {
    logger.warn({ err, app }, EVENTS.logWriteFailed);
  }
}
