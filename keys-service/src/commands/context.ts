/** What the admin commands share: finding the config and opening the store. */
import { pino } from 'pino';
import { loadKeysServiceConfigFile, parseKeysServiceConfig } from '../config.js';
import type { KeysServiceConfig } from '../config.js';
import type { StoreContext } from '../domain/index.js';
import { openConfiguredStore } from '../storage/index.js';
import { BadRequest } from '@neetodeploy/platform';

/** Options every admin command takes to find the store. */
export interface StoreLocation {
  readonly config?: string;
  readonly dataDir?: string;
}

export function resolveConfig(location: StoreLocation): KeysServiceConfig {
  if (location.config && location.dataDir) {
    throw new BadRequest('give either --config or --data-dir, not both');
  }
  if (location.config) return loadKeysServiceConfigFile(location.config);
  if (location.dataDir) return parseKeysServiceConfig({ dataDir: location.dataDir });
  throw new BadRequest('say where the store is: --config FILE or --data-dir DIR');
}

/** Opens the store; the caller must `close()` the returned context's store. */
export function openStoreContext(location: StoreLocation): StoreContext {
  const config = resolveConfig(location);
  return {
    config,
    store: openConfiguredStore(config),
    // stdout carries only command output (a token): logs go to stderr, warnings and up.
    logger: pino({ level: 'warn' }, pino.destination(2)),
    clock: () => new Date(),
  };
}

/** `30d`, `12h`, `90m`, `45s` or plain seconds. */
export function parseTokenLifetime(text: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!m) throw new BadRequest(`not a duration: ${text} (use e.g. 30d, 12h, 90m)`);
  const n = Number(m[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = n * unit;
  if (seconds < 60 || seconds > 365 * 86_400)
    throw new BadRequest('token lifetimes range from 1 minute to 365 days');
  return seconds;
}
