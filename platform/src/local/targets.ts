/**
 * Which running instance a {@link ConsoleTarget} names, and the environment it runs with, so a
 * console beside it sees what it sees.
 */
import fsp from 'node:fs/promises';
import { NotFound } from '../errors.js';
import type { ConsoleTarget } from '../types.js';
import { readRunFile } from './run-file.js';
import { processExists } from './signals.js';
import type { LocalPlatformState } from './types.js';

export interface RunningTarget {
  /** Instance name, e.g. `web.1`. */
  readonly name: string;
  /** Its main process, which leads its process group. */
  readonly pid: number;
  readonly env: Record<string, string>;
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

/** Throws NotFound (`process_not_found`) when nothing of the target runs. */
export async function resolveTarget(
  { config, paths, store, supervisor }: LocalPlatformState,
  app: string,
  target: ConsoleTarget,
): Promise<RunningTarget> {
  const what = target.pod ?? target.process ?? '';
  const notFound = () =>
    new NotFound(`no running process ${what} in app ${app}`, { code: 'process_not_found' });
  if (supervisor) {
    const found = supervisor.runningInstance(app, target);
    if (!found) throw notFound();
    return {
      name: found.name,
      pid: found.pid,
      env: (await processEnvironment(found.pid)) ?? found.env,
    };
  }
  const records = (await readRunFile(paths, app)) ?? [];
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
  if (env) return { name: record.name, pid: record.pid, env };
  // The process's environment is unreadable: rebuild it as the supervisor made it.
  const { vars } = await store.get(app);
  return {
    name: record.name,
    pid: record.pid,
    env: { ...config.baseEnv, ...vars, PORT: String(record.port), DYNO: record.name },
  };
}
