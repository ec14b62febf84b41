#!/usr/bin/env node
/**
 * `neetodeploy-bastion --config FILE`: the only place that reads the environment, builds the
 * logger, listens and traps signals.
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import pino from 'pino';
import { createPlatformFromConfig } from '@neetodeploy/platform';
import { createBastion } from './app.js';
import { ConfigError, loadConfigFile } from './config.js';
import { EVENTS } from './events.js';
import { tuneV8ForBulkTransfer } from './server/v8-tuning.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

async function main(): Promise<void> {
  tuneV8ForBulkTransfer();
  // `-V` as well as `-v`/`--version`, as the other binaries accept.
  const argv = process.argv.map((a, i) => (i >= 2 && a === '-V' ? '--version' : a));
  const program = new Command('neetodeploy-bastion')
    .description('Certificate-only SSH bastion that turns every session into a console exec')
    .version(version, '-v, --version', 'print the version (-V too)')
    .requiredOption('-c, --config <file>', 'bastion config file (YAML or JSON)')
    .parse(argv);
  const { config: file } = program.opts<{ config: string }>();

  let config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = pino({
    level: process.env.LOG_LEVEL ?? config.log.level,
    base: { service: 'bastion' },
  });
  const platform = await createPlatformFromConfig(config.platform, { logger });
  const bastion = createBastion(config, { platform, logger });
  const addresses = await bastion.start();
  process.stdout.write(`${JSON.stringify({ ssh: addresses.ssh, metrics: addresses.metrics })}\n`);

  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ event: EVENTS.shutdown, signal }, 'shutting down');
    const work = signal === 'SIGTERM' ? bastion.drain() : bastion.stop();
    void work
      .then(() => platform.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ event: EVENTS.shutdownFailed, err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`neetodeploy-bastion: ${(err as Error).message}\n`);
  process.exit(1);
});
