/** `neetodeploy apps`: the apps you may use and what you may do on each. */
import type { Deps, CommandResult } from '../deps.js';
import { json, table } from '../format.js';
import { write } from '../io.js';

export interface AppsOptions {
  readonly json?: boolean;
}

export async function runApps(options: AppsOptions, deps: Deps): CommandResult {
  const { client } = await deps.api.session();
  const apps = await client.apps();
  if (options.json) {
    await write(deps.io.stdout, json(apps));
    return;
  }
  if (apps.length === 0) {
    await write(
      deps.io.stderr,
      'You have access to no app yet: ask an administrator to grant you one.\n',
    );
    return;
  }
  const rows = [
    ['NAME', 'PERMISSIONS', 'PROCESSES'],
    ...apps.map((a) => [a.name, a.permissions.join(','), (a.process_types ?? []).join(',') || '-']),
  ];
  await write(deps.io.stdout, `${table(rows)}\n`);
}
