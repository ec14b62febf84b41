/**
 * Config vars of an app: read with `config:read`, changed with `config:write`, through the
 * platform (the local store, or the app's Secret in a cluster). Values are secrets: they are
 * never logged nor written to audit events, only the names of the keys that changed.
 */
import { isConfigVarName } from '@neetodeploy/contract';
import { AccessDenied, BadRequest, Unavailable } from '@neetodeploy/platform';
import type { ConfigVars, Platform } from '@neetodeploy/platform';
import type { Permission } from '../policy/index.js';
import type { Caller, DomainContext } from './context.js';
import { recordAudit } from './context.js';
import { EVENTS } from '../events.js';
import { requireAppName } from './names.js';

/**
 * Limits on config vars, enforced here whatever the platform (documented in the README):
 * keys are environment variable names, values are bounded UTF-8 strings without NUL.
 */
export const CONFIG_VAR_LIMITS = {
  maxKeyLength: 256,
  maxValueBytes: 32 * 1024,
  /** Keys named in one change (set plus unset). */
  maxKeysPerChange: 1000,
  /** Size of a PATCH body. */
  maxBodyBytes: 512 * 1024,
} as const;

export interface ConfigVarsChangeInput {
  readonly set: Readonly<Record<string, string>>;
  readonly unset: readonly string[];
  /** The version the caller read; a different current version is a Conflict. */
  readonly ifMatch?: string;
  /** Restart the app so its processes see the change (default true). */
  readonly restart?: boolean;
  readonly clientIp: string;
}

/** Same refusal whether the app exists or not, so app names cannot be probed. */
function requirePermission(
  ctx: DomainContext,
  caller: Caller,
  app: string,
  permission: Permission,
  what: string,
): void {
  const grant = ctx.policy.current().grantFor(caller, app);
  if (!grant.permissions.has(permission)) {
    throw new AccessDenied(`you may not ${what} of ${app} (needs the ${permission} permission)`, {
      code: 'access_denied',
    });
  }
}

export function platformOf(ctx: DomainContext): Platform {
  if (!ctx.platform) {
    throw new Unavailable('this keys-service has no platform configured', { code: 'no_platform' });
  }
  return ctx.platform;
}

/** Validates a change before anything is touched; BadRequest names the first bad key. */
export function validateConfigChange(
  set: Readonly<Record<string, string>>,
  unset: readonly string[],
): void {
  const keys = [...Object.keys(set), ...unset];
  if (keys.length === 0) {
    throw new BadRequest('nothing to change: give keys to set or unset', { code: 'empty_change' });
  }
  if (keys.length > CONFIG_VAR_LIMITS.maxKeysPerChange) {
    throw new BadRequest(
      `too many keys in one change (at most ${CONFIG_VAR_LIMITS.maxKeysPerChange})`,
      {
        code: 'too_many_keys',
      },
    );
  }
  for (const key of keys) {
    if (key.length > CONFIG_VAR_LIMITS.maxKeyLength || !isConfigVarName(key)) {
      // Keys are names, not secrets: quoting a (truncated) key helps the user find it.
      throw new BadRequest(
        `invalid config var name ${JSON.stringify(key.slice(0, 64))}: use letters, digits and _ (not starting with a digit), at most ${CONFIG_VAR_LIMITS.maxKeyLength} characters`,
        { code: 'invalid_config_key' },
      );
    }
  }
  const unsetSet = new Set(unset);
  for (const [key, value] of Object.entries(set)) {
    if (unsetSet.has(key)) {
      throw new BadRequest(`${key} is both set and unset`, { code: 'invalid_config_change' });
    }
    if (Buffer.byteLength(value, 'utf8') > CONFIG_VAR_LIMITS.maxValueBytes) {
      throw new BadRequest(
        `the value of ${key} is too large (at most ${CONFIG_VAR_LIMITS.maxValueBytes} bytes)`,
        {
          code: 'config_value_too_large',
        },
      );
    }
    if (value.includes('\0')) {
      throw new BadRequest(
        `the value of ${key} contains a NUL byte, which environment variables cannot hold`,
        {
          code: 'invalid_config_value',
        },
      );
    }
  }
}

export async function getConfigVars(
  ctx: DomainContext,
  caller: Caller,
  app: string,
): Promise<ConfigVars> {
  requireAppName(app);
  requirePermission(ctx, caller, app, 'config:read', 'read the config vars');
  return platformOf(ctx).getConfigVars(app);
}

/** Applies set and unset at once; Conflict when `ifMatch` is stale, nothing changed then. */
export async function setConfigVars(
  ctx: DomainContext,
  caller: Caller,
  app: string,
  input: ConfigVarsChangeInput,
): Promise<ConfigVars> {
  requireAppName(app);
  requirePermission(ctx, caller, app, 'config:write', 'change the config vars');
  validateConfigChange(input.set, input.unset);
  const result = await platformOf(ctx).updateConfigVars(
    app,
    { set: input.set, unset: input.unset },
    {
      ...(input.ifMatch !== undefined ? { ifMatch: input.ifMatch } : {}),
      restart: input.restart ?? true,
    },
  );
  await recordAudit(ctx, {
    type: EVENTS.configChanged,
    at: ctx.clock(),
    actor: caller.email,
    app,
    clientIp: input.clientIp,
    details: {
      set: Object.keys(input.set).sort().join(','),
      unset: [...input.unset].sort().join(','),
      restart: input.restart ?? true,
      version: result.version,
    },
  });
  return result;
}
