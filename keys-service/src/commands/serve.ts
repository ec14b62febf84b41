import { pino } from 'pino';
import { createKeysService } from '../app.js';
import { loadKeysServiceConfigFile } from '../config.js';
import type { KeysService } from '../app.js';

/** `neetodeploy-keys serve --config FILE`: runs the server until SIGINT or SIGTERM. */
export async function runServe(options: { config: string }): Promise<void> {
  const config = loadKeysServiceConfigFile(options.config);
  const logger = pino({ level: config.logLevel });
  const service: KeysService = createKeysService(config, { logger, processMetrics: true });
  await service.start();
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals): void => {
      logger.info({ event: 'keys.signal', signal }, 'shutting down');
      process.off('SIGINT', shutdown);
      process.off('SIGTERM', shutdown);
      service.stop().then(resolve, (err: unknown) => {
        logger.error({ event: 'keys.stop_failed', err }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}
