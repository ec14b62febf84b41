/**
 * Config vars of an app: one Secret, consumed by the app's Deployments through `envFrom`.
 * Updates are read-modify-write with the Secret's resourceVersion: a 409 means another writer
 * won, so the change is re-applied to what it wrote and tried again (no lost update), unless
 * the caller pinned a version with `ifMatch`, which then is a Conflict.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Conflict, LimitExceeded, Unavailable } from '../errors.js';
import { CONFIG_VAR_LIMITS, validateChange } from '../config-var-rules.js';
import type { ConfigChange, ConfigVars } from '../types.js';
import { isApiError, toAppError, type KubeClient } from './client.js';
import { EVENTS } from './events.js';

/** Version of an app whose Secret does not exist yet. */
export const EMPTY_VERSION = '0';

export interface ConfigSecretRef {
  readonly namespace: string;
  readonly name: string;
  readonly app: string;
  readonly appLabel: string;
}

export interface ConfigUpdateOutcome extends ConfigVars {
  readonly setKeys: readonly string[];
  readonly unsetKeys: readonly string[];
}

function secretPath(ref: ConfigSecretRef, withName: boolean): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets`;
  return withName ? `${base}/${encodeURIComponent(ref.name)}` : base;
}

function decode(secret: V1Secret): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    vars[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  for (const [key, value] of Object.entries(secret.stringData ?? {})) vars[key] = value;
  return vars;
}

function encode(vars: Readonly<Record<string, string>>): Record<string, string> {
  const data: Record<string, string> = {};
  for (const key of Object.keys(vars).sort()) {
    data[key] = Buffer.from(vars[key]!, 'utf8').toString('base64');
  }
  return data;
}

async function readSecret(client: KubeClient, ref: ConfigSecretRef): Promise<V1Secret | undefined> {
  try {
    return await client.request<V1Secret>('GET', secretPath(ref, true));
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw toAppError(err, `config vars of ${ref.app}`);
  }
}

export async function getConfigVars(client: KubeClient, ref: ConfigSecretRef): Promise<ConfigVars> {
  const secret = await readSecret(client, ref);
  if (!secret) return { vars: {}, version: EMPTY_VERSION };
  return { vars: decode(secret), version: secret.metadata?.resourceVersion ?? EMPTY_VERSION };
}

function checkTotals(vars: Readonly<Record<string, string>>): void {
  const keys = Object.keys(vars);
  if (keys.length > CONFIG_VAR_LIMITS.maxVars) {
    throw new LimitExceeded(`an app may have at most ${CONFIG_VAR_LIMITS.maxVars} config vars`);
  }
  let total = 0;
  for (const key of keys) total += key.length + Buffer.byteLength(vars[key]!, 'utf8');
  if (total > CONFIG_VAR_LIMITS.maxTotalBytes) {
    throw new LimitExceeded(
      `the config vars of an app may take at most ${CONFIG_VAR_LIMITS.maxTotalBytes / 1024} KiB`,
    );
  }
}

export async function updateConfigVars(
  client: KubeClient,
  ref: ConfigSecretRef,
  change: ConfigChange,
  options: { ifMatch?: string | undefined; maxRetries: number; logger: Logger },
): Promise<ConfigUpdateOutcome> {
  validateChange(change);
  for (let attempt = 0; ; attempt++) {
    const secret = await readSecret(client, ref);
    const version = secret?.metadata?.resourceVersion ?? EMPTY_VERSION;
    if (options.ifMatch !== undefined && options.ifMatch !== version) {
      throw new Conflict('the config vars changed since you read them; read them again');
    }
    const before = secret ? decode(secret) : {};
    const after: Record<string, string> = { ...before };
    const setKeys: string[] = [];
    const unsetKeys: string[] = [];
    for (const [key, value] of Object.entries(change.set ?? {})) {
      if (after[key] !== value) setKeys.push(key);
      after[key] = value;
    }
    for (const key of change.unset ?? []) {
      if (Object.hasOwn(after, key)) unsetKeys.push(key);
      delete after[key];
    }
    checkTotals(after);
    if (secret && setKeys.length === 0 && unsetKeys.length === 0) {
      return { vars: before, version, setKeys, unsetKeys };
    }
    try {
      const written = secret
        ? await client.request<V1Secret>('PUT', secretPath(ref, true), {
            body: {
              ...secret,
              // Only what this writer read: a concurrent write makes the PUT a 409.
              metadata: { ...secret.metadata, resourceVersion: version },
              data: encode(after),
              stringData: undefined,
            },
          })
        : await client.request<V1Secret>('POST', secretPath(ref, false), {
            body: {
              apiVersion: 'v1',
              kind: 'Secret',
              type: 'Opaque',
              metadata: {
                name: ref.name,
                namespace: ref.namespace,
                labels: { [ref.appLabel]: ref.app },
              },
              data: encode(after),
            },
          });
      return {
        vars: decode(written),
        version: written.metadata?.resourceVersion ?? EMPTY_VERSION,
        setKeys,
        unsetKeys,
      };
    } catch (err) {
      if (!isApiError(err, 409)) throw toAppError(err, `config vars of ${ref.app}`);
      if (options.ifMatch !== undefined) {
        throw new Conflict('the config vars changed since you read them; read them again', {
          cause: err,
        });
      }
      if (attempt + 1 >= options.maxRetries) {
        throw new Unavailable('the config vars are being changed by many writers; try again', {
          cause: err,
        });
      }
      options.logger.debug({ app: ref.app, attempt }, EVENTS.configConflictRetry);
      // Jittered backoff so a crowd of writers spreads out instead of colliding again.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
    }
  }
}
