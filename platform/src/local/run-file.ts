/**
 * The run file of an app as a process that does not run the apps reads it: what the supervisor
 * of this data dir (see supervisor.ts) publishes about its instances.
 */
import { readFileIfExists } from './files.js';
import type { LocalPaths } from './paths.js';
import { processExists } from './signals.js';
import type { RunRecord } from './supervisor.js';

/** The instances of an app, or undefined when no live supervisor published any. */
export async function readRunFile(
  paths: LocalPaths,
  app: string,
): Promise<RunRecord[] | undefined> {
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
