#!/usr/bin/env node
/**
 * Entry point of `neetodeploy-keys`: the only place that reads process.env/argv and turns
 * outcomes into exit codes (0 ok, 1 error or failed check, 2 usage).
 */
import { CommanderError } from 'commander';
import { AdminError, CheckFailed, UsageError } from './admin/index.js';
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

const deps: CliDeps = {
  io: { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
  now: () => new Date(),
  env: process.env,
  cwd: process.cwd(),
};

try {
  await createProgram(deps).parseAsync(process.argv);
} catch (err) {
  process.exitCode = exitCodeFor(err, process.stderr);
}
