import { AccessDenied } from '@neetodeploy/platform';
import type { ProcessInfo } from '@neetodeploy/platform';
import { PERMISSIONS } from '../policy/index.js';
import type { Permission } from '../policy/index.js';
import { platformOf } from './config-vars.js';
import type { Caller, DomainContext } from './context.js';
import { requireAppName } from './names.js';

export interface AppAccess {
  readonly name: string;
  readonly permissions: readonly Permission[];
  /** From the platform; absent when no platform is configured. */
  readonly processTypes?: readonly string[];
}

/**
 * Apps the caller may use: the platform's apps intersected with the policy; without a platform,
 * the apps the policy names literally for the caller.
 */
export async function listAppsForCaller(ctx: DomainContext, caller: Caller): Promise<AppAccess[]> {
  const policy = ctx.policy.current();
  const ordered = (set: ReadonlySet<Permission>): Permission[] =>
    PERMISSIONS.filter((p) => set.has(p));
  if (ctx.platform) {
    const apps = await ctx.platform.listApps();
    return apps
      .map((app) => ({ app, grant: policy.grantFor(caller, app.name) }))
      .filter(({ grant }) => grant.permissions.size > 0)
      .map(({ app, grant }) => ({
        name: app.name,
        permissions: ordered(grant.permissions),
        processTypes: app.processTypes,
      }));
  }
  return policy
    .literalAppsFor(caller)
    .map((name) => ({ name, permissions: ordered(policy.grantFor(caller, name).permissions) }))
    .filter((a) => a.permissions.length > 0);
}

/**
 * The app's processes, for anyone with any permission on it (as `apps` lists it). The refusal is
 * the same whether the app exists or not, so app names cannot be probed.
 */
export async function listProcessesForCaller(
  ctx: DomainContext,
  caller: Caller,
  app: string,
): Promise<{ processTypes: readonly string[]; processes: ProcessInfo[] }> {
  requireAppName(app);
  if (ctx.policy.current().grantFor(caller, app).permissions.size === 0) {
    throw new AccessDenied(`you have no access to ${app}: ask an administrator for a grant`, {
      code: 'access_denied',
    });
  }
  const platform = platformOf(ctx);
  const info = await platform.getApp(app);
  const processes = await platform.listProcesses(app);
  return { processTypes: info.processTypes, processes };
}
