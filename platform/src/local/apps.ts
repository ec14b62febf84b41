/**
 * Apps are folders under `<dataDir>/apps/` with a Procfile; their processes are what the
 * supervisor runs (here, or in the process of this data dir that runs the apps).
 */
import fsp from 'node:fs/promises';
import { checkAppName } from '../app-name.js';
import { NotFound } from '../errors.js';
import { APP_NAME_PATTERN, type AppInfo, type ProcessInfo } from '../types.js';
import { readFileIfExists } from './files.js';
import { parseProcfile } from './procfile.js';
import { readRunFile } from './run-file.js';
import { processExists } from './signals.js';
import type { LocalPlatformState } from './types.js';

/** Throws BadRequest for an invalid name, NotFound for a folder without a Procfile. */
export async function requireApp({ paths }: LocalPlatformState, app: string): Promise<AppInfo> {
  checkAppName(app);
  const procfile = await readFileIfExists(paths.procfile(app)).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  });
  if (procfile === undefined) throw new NotFound(`app ${app} not found`);
  return { name: app, processTypes: parseProcfile(procfile).map((e) => e.type) };
}

export async function listApps(state: LocalPlatformState): Promise<AppInfo[]> {
  const names = (await fsp.readdir(state.paths.appsDir))
    .filter((name) => APP_NAME_PATTERN.test(name))
    .sort();
  const apps: AppInfo[] = [];
  for (const name of names) {
    try {
      apps.push(await requireApp(state, name));
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
  }
  return apps;
}

/** From the supervisor here, else from its run file, else every process type as stopped. */
export async function listProcesses(
  state: LocalPlatformState,
  app: string,
): Promise<ProcessInfo[]> {
  const { supervisor } = state;
  const info = await requireApp(state, app);
  const fromSupervisor = supervisor?.processes(app);
  if (fromSupervisor) return fromSupervisor;
  const records = supervisor ? undefined : await readRunFile(state.paths, app);
  if (records) {
    return records.map((r) => {
      const alive = r.pid !== undefined && processExists(r.pid);
      const processState = r.state === 'running' && !alive ? 'stopped' : r.state;
      return {
        name: r.name,
        type: r.type,
        state: processState,
        ...(processState === 'running' && r.startedAt ? { startedAt: new Date(r.startedAt) } : {}),
      };
    });
  }
  return info.processTypes.map((type) => ({ name: `${type}.1`, type, state: 'stopped' }));
}
