#!/usr/bin/env node
/**
 * Entry point of `neetodeploy-keys`: the only place that reads process.env/argv, builds the
 * server's parts (logger, store, platform, policy, TLS) for `serve`, traps signals, and turns
 * outcomes into exit codes (0 ok, 1 error or failed check, 2 usage).
 */
import { CommanderError } from 'commander';
import { AdminError, CheckFailed, UsageError } from './commands/index.js';
import type { ServeKeysService } from './commands/index.js';
import { createProgram, type CliDeps } from './cli.js';

function exitCodeFor(err: unknown, stderr: NodeJS.WritableStream): number {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help).
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CheckFailed) return 1;
  if (err instanceof UsageError) {
    stderr.write(`neetodeploy-keys: ${err.message}\n`);
    return 2;
  }
  // SshCertError matched by name: loading the library just to classify errors slows every start.
  if (err instanceof AdminError || (err instanceof Error && err.name === 'SshCertError')) {
    stderr.write(`neetodeploy-keys: ${err.message}\n`);
    return 1;
  }
  // AppError of @neetodeploy/platform, matched by shape so the admin commands do not load it.
  const userMessage = (err as { userMessage?: unknown } | undefined)?.userMessage;
  if (err instanceof Error && typeof userMessage === 'string') {
    stderr.write(`neetodeploy-keys: ${userMessage}\n`);
    return 1;
  }
  stderr.write(
    `neetodeploy-keys: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  return 1;
}

/**
 * `serve`: builds every part of the server, runs it until SIGINT or SIGTERM, then stops it and
 * closes the parts in reverse order. Loaded lazily so the offline commands start fast.
 */
const serve: ServeKeysService = async (options) => {
  const [{ pino }, platformLib, keys] = await Promise.all([
    import('pino'),
    import('@neetodeploy/platform'),
    import('./index.js'),
  ]);
  const config = keys.loadKeysServiceConfigFile(options.config);
  const logger = pino({ level: config.logLevel });
  const store = keys.openConfiguredStore(config, logger, { serving: true });
  const closeStore = (): Promise<void> => store.close();
  try {
    await keys.verifyStore(store);
    // The keys-service may not delete pods (its Role has no pods/delete): the bastion reaps.
    const platform = config.platform
      ? await platformLib.createPlatformFromConfig(config.platform, { logger }, { reaper: false })
      : undefined;
    const policy = keys.createPolicySource({
      file: config.policyFile,
      debounceMs: config.policyReloadDebounceMs,
      logger,
    });
    const tls = keys.loadConfiguredTls(config);
    const service = keys.createKeysService(config, {
      logger,
      store,
      policy,
      ...(platform ? { platform } : {}),
      ...(tls ? { tls } : {}),
      processMetrics: true,
    });
    await service.start();
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    logger.info({ event: keys.EVENTS.signal, signal }, 'shutting down');
    await service.stop().catch((err: unknown) => {
      logger.error({ event: keys.EVENTS.stopFailed, err }, 'stop failed');
    });
    policy.close();
    await platform?.close();
  } finally {
    await closeStore();
  }
};

const deps: CliDeps = {
  io: { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  now: () => new Date(),
  env: process.env,
  cwd: process.cwd(),
  serve,
};

try {
  // `-V` as well as `-v`/`--version`, as the other binaries accept.
  const argv = process.argv.map((a, i) => (i >= 2 && a === '-V' ? '--version' : a));
  await createProgram(deps).parseAsync(argv);
} catch (err) {
  process.exitCode = exitCodeFor(err, process.stderr);
}
