/**
 * The one place a server turns its `platform` config section into a running backend, so the
 * bastion's and the keys-service's composition roots cannot drift apart.
 */
import type { Logger } from 'pino';
import * as z from 'zod';
import { kubernetesPlatformConfigSchema } from './kubernetes/config.js';
import { createKubernetesPlatform } from './kubernetes/platform.js';
import { createLocalPlatform } from './local/platform.js';
import type { Platform } from './types.js';

/** The `platform` section of a server's config: `type` picks the backend. */
export const platformConfigSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('local'),
      dataDir: z.string().min(1),
      /** See the local platform's config: `auto` (default), `user`, `sandbox` or `none`. */
      isolation: z.enum(['auto', 'user', 'sandbox', 'none']).optional(),
    })
    .strict(),
  kubernetesPlatformConfigSchema.extend({ type: z.literal('kubernetes') }).strict(),
]);

export type PlatformConfig = z.output<typeof platformConfigSchema>;

/** What the server building the platform is allowed to do with it. */
export interface PlatformFromConfigOptions {
  /**
   * Run the periodic orphan-console reaper (default true). Only a component that creates and
   * may delete console pods (the bastion) should: the keys-service has no `pods delete` right,
   * so its reaper would only collect 403s. False forces `reaper.intervalMs` to 0 whatever the
   * config says (`reapOrphans()` can still be called).
   */
  readonly reaper?: boolean;
}

/**
 * Builds the configured backend. A server never runs the local platform's processes (the
 * all-in-one does that itself); it only reads apps and opens consoles. Rejects on a bad config
 * or an unreachable kubeconfig, like the backends themselves.
 */
export async function createPlatformFromConfig(
  config: PlatformConfig,
  deps: { readonly logger: Logger },
  options: PlatformFromConfigOptions = {},
): Promise<Platform> {
  const logger = deps.logger.child({ module: 'platform' });
  if (config.type === 'local') {
    return createLocalPlatform(
      {
        dataDir: config.dataDir,
        runProcesses: false,
        createDemoApp: true,
        ...(config.isolation ? { isolation: config.isolation } : {}),
      },
      { logger },
    );
  }
  const { type: _type, ...kubernetes } = config;
  const reaper =
    options.reaper === false ? { ...kubernetes.reaper, intervalMs: 0 } : kubernetes.reaper;
  return createKubernetesPlatform({ ...kubernetes, reaper }, { logger });
}
