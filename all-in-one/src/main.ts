#!/usr/bin/env node
/**
 * `npm start [-- --data-dir DIR --api-port N --ssh-port M]`: the embedded default. The only
 * place that reads argv and the environment, builds the logger, prints the banner and traps
 * signals. Exit codes: 0 stopped cleanly, 1 failed, 2 bad usage.
 */
import fs from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { tuneV8ForBulkTransfer } from '@neetodeploy/bastion';
import type { Logger } from 'pino';
import type { AllInOne } from './app.js';
import { AllInOneConfigError, parseAllInOneConfig } from './config.js';
import type { AllInOneConfig } from './config.js';
import { EVENTS } from './events.js';
import { layoutOf } from './layout.js';

const NAME = 'neetodeploy-all-in-one';

function portOption(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535 (0 picks a free one)');
  }
  return Number(value);
}

interface Flags {
  dataDir?: string;
  apiPort?: number;
  sshPort?: number;
  logLevel?: string;
  logStderr?: boolean;
}

/** Parses argv + env into a validated config; usage problems exit 2 with a clear message. */
function readConfig(): AllInOneConfig {
  const program = new Command(NAME)
    .description(
      'Run the keys-service (HTTPS), the bastion (SSH) and the local platform with a demo app, ' +
        'all in one process, with state in a data dir.',
    )
    .option('--data-dir <dir>', 'where all state lives', '.neetodeploy-data')
    .option('--api-port <port>', 'HTTPS port of the API (0: a free one)', portOption, 8443)
    .option('--ssh-port <port>', 'SSH port of the bastion (0: a free one)', portOption, 2222)
    .option('--log-level <level>', 'info, debug, warn, ... (or LOG_LEVEL)')
    .option('--log-stderr', 'JSON logs on stderr instead of <data-dir>/neetodeploy.log')
    .addHelpText(
      'after',
      '\nThe first account comes from NEETODEPLOY_ADMIN_EMAIL and NEETODEPLOY_ADMIN_PASSWORD when\n' +
        'set; otherwise admin@localhost with a random password printed once.\n\n' +
        'Example:\n  npm start -- --data-dir /tmp/nd --api-port 0 --ssh-port 0\n',
    )
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program.parse(process.argv);
  const flags = program.opts<Flags>();
  const env = process.env;
  return parseAllInOneConfig(
    {
      dataDir: flags.dataDir,
      apiPort: flags.apiPort,
      sshPort: flags.sshPort,
      admin: {
        email: env.NEETODEPLOY_ADMIN_EMAIL || undefined,
        password: env.NEETODEPLOY_ADMIN_PASSWORD || undefined,
      },
      logTo: flags.logStderr ? 'stderr' : 'file',
      logLevel: flags.logLevel ?? (env.LOG_LEVEL || undefined),
    },
    process.cwd(),
  );
}

function createLogger(config: AllInOneConfig): { logger: Logger; logFile?: string } {
  const base = { service: NAME };
  if (config.logTo === 'stderr') {
    return { logger: pino({ level: config.logLevel, base }, pino.destination(2)) };
  }
  const logFile = layoutOf(config.dataDir).logFile;
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Synchronous writes: every line is on disk when the process exits, whatever the path.
  const destination = pino.destination({ dest: logFile, sync: true, mode: 0o600 });
  return { logger: pino({ level: config.logLevel, base }, destination), logFile };
}

/** A start failure as one line a user can act on. */
function describeStartError(err: unknown, config: AllInOneConfig): string {
  const e = err as NodeJS.ErrnoException & { userMessage?: string; port?: number };
  if (e.code === 'EADDRINUSE') {
    const which = e.port === config.sshPort ? '--ssh-port' : '--api-port';
    return `port ${e.port ?? '?'} is already in use: pick another with ${which} (0 picks a free one)`;
  }
  if (typeof e.userMessage === 'string') return e.userMessage;
  return err instanceof Error ? err.message : String(err);
}

async function main(): Promise<void> {
  tuneV8ForBulkTransfer();
  let config: AllInOneConfig;
  try {
    config = readConfig();
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed the message (or the help/version).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof AllInOneConfigError) {
      process.stderr.write(`${NAME}: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }

  const { logger, logFile } = createLogger(config);
  // Loaded only now: `--help` and usage errors answer without loading every server.
  const { createAllInOne } = await import('./app.js');
  const { renderBanner } = await import('./banner.js');
  const app: AllInOne = createAllInOne(config, { logger });

  let stoppingSince: number | undefined;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      // `npm start` forwards the terminal's Ctrl-C that this process also received: only a
      // later, deliberate second Ctrl-C forces the exit.
      if (Date.now() - stoppingSince < 1000) return;
      process.stderr.write('Stopping now.\n');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ event: EVENTS.signal, signal }, 'shutting down');
    process.stderr.write('\nStopping (Ctrl-C again to force)...\n');
    app.stop().then(
      () => {
        process.stderr.write('Stopped.\n');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.stderr.write(`${NAME}: did not stop cleanly: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  try {
    const address = await app.start();
    process.stdout.write(
      renderBanner(address, { cwd: process.cwd(), ...(logFile ? { logFile } : {}) }),
    );
  } catch (err) {
    logger.error({ err }, 'start failed');
    process.stderr.write(`${NAME}: cannot start: ${describeStartError(err, config)}\n`);
    process.exit(1);
  }
}

await main();
