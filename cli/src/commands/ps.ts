/** `neetodeploy ps -a APP`: the app's process types and instances, with state and age (Heroku's `ps`). */
import type { ProcessEntry, Processes } from '@neetodeploy/contract';
import type { CommandResult, Deps } from '../deps.js';
import { json } from '../format.js';
import { write } from '../io.js';

export interface PsOptions {
  readonly app: string;
  readonly json?: boolean;
}

/** "3s", "5m", "2h", "4d": how long ago, at the coarsest unit that is at least 1. */
export function age(from: Date, now: Date): string {
  const s = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function instanceLine(p: ProcessEntry, now: Date): string {
  const since = p.started_at
    ? ` ${p.started_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z')} (${age(new Date(p.started_at), now)} ago)`
    : '';
  const pod = p.pod && p.pod !== p.name ? ` [${p.pod}]` : '';
  return `${p.name}${pod}: ${p.state}${since}`;
}

/** Heroku's layout: a `=== TYPE (N)` heading per process type, then one line per instance. */
export function formatProcesses(body: Processes, now: Date): string {
  const types = [...new Set([...body.process_types, ...body.processes.map((p) => p.type)])];
  if (types.length === 0) return `${body.app} has no process types (no Procfile entries).\n`;
  return types
    .map((type) => {
      const mine = body.processes.filter((p) => p.type === type);
      const lines =
        mine.length > 0 ? mine.map((p) => instanceLine(p, now)) : ['(no instance running)'];
      return [`=== ${type} (${mine.length})`, ...lines].join('\n');
    })
    .join('\n\n')
    .concat('\n');
}

export async function runPs(options: PsOptions, deps: Deps): CommandResult {
  const { client } = await deps.api.session();
  const body = await client.processes(options.app);
  await write(deps.io.stdout, options.json ? json(body) : formatProcesses(body, new Date()));
}
