import type { Logger } from 'pino';
import type { BastionConfig } from '../config.js';
import { createPollingTrustStore } from './poll.js';
import { createStaticTrustStore } from './static.js';
import type { TrustStore } from './types.js';

export type { TrustSnapshot, TrustStore } from './types.js';
export { keyIdParts, normalizeUser, userOfKeyId } from './snapshot.js';

export function createTrustStore(
  config: BastionConfig['trust'],
  logger: Logger,
  now: () => Date,
): TrustStore {
  if (config.keysService) return createPollingTrustStore(config.keysService, logger, now);
  if (config.static) return createStaticTrustStore(config.static, logger, now);
  throw new Error('trust: neither static nor keysService configured');
}
