/**
 * The keys-service's own commands on the `neetodeploy-keys` program: `serve`,
 * `users add|list|remove`, `tokens create|list|revoke`, `revoke`. Registered from cli.ts with one call.
 */
import type { Command } from 'commander';
import type { CommandDeps } from './deps.js';
import { registerRecordingsCommands } from './recordings.js';
import { runRevoke } from './revoke.js';
import { runServe } from './serve.js';
import { runTokensCreate, runTokensList, runTokensRevoke } from './tokens.js';
import { runUsersAdd, runUsersList, runUsersRemove } from './users.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function storeOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'keys-service config file (YAML)')
    .option('--data-dir <dir>', 'data dir of the keys-service (instead of --config)');
}

/** Matches cli.ts's `CommandRegistrar`: `deps.io` is the program's injected I/O. */
export function registerKeysServiceCommands(
  program: Command,
  deps: Pick<CommandDeps, 'io' | 'serve'>,
): void {
  const { io } = deps;
  program
    .command('serve')
    .description('run the keys-service HTTPS API until SIGINT/SIGTERM')
    .requiredOption('--config <file>', 'config file (YAML)')
    .action(async (options: { config: string }) => {
      await runServe(options, deps);
    });

  const users =
    program.commands.find((c) => c.name() === 'users') ??
    program.command('users').description('manage local accounts');
  storeOptions(
    users
      .command('add')
      .description('create or update a local account (password from a prompt or --password-stdin)')
      .argument('<email>', 'the account email')
      .option('--group <group>', 'a group (repeatable)', collect)
      .option('--password-stdin', 'read the password from the first line of stdin'),
  ).action(async (email: string, options: Parameters<typeof runUsersAdd>[1]) => {
    await runUsersAdd(email, options, io);
  });
  storeOptions(
    users
      .command('list')
      .description('list local accounts and their groups')
      .option('--json', 'machine-readable output'),
  ).action(async (options: Parameters<typeof runUsersList>[0]) => {
    await runUsersList(options, io);
  });
  storeOptions(
    users
      .command('remove')
      .description('revoke a user (tokens, browser sessions, certificates) and delete the account')
      .argument('<email>', 'the account email'),
  ).action(async (email: string, options: Parameters<typeof runUsersRemove>[1]) => {
    await runUsersRemove(email, options, io);
  });

  const tokens =
    program.commands.find((c) => c.name() === 'tokens') ??
    program.command('tokens').description('manage API tokens');
  storeOptions(
    tokens
      .command('create')
      .description('mint an API token for scripts and CI (printed once, on stdout)')
      .requiredOption('--user <email>', 'whose token')
      .option('--ttl <duration>', 'lifetime, e.g. 30d, 12h (default: the configured token TTL)')
      .option('--description <text>', 'what the token is for'),
  ).action(async (options: Parameters<typeof runTokensCreate>[0]) => {
    await runTokensCreate(options, io);
  });
  storeOptions(
    tokens
      .command('list')
      .description('list live API tokens by id (never the token itself), newest first')
      .option('--user <email>', "only this user's tokens")
      .option('--all', 'include revoked and expired tokens')
      .option('--json', 'machine-readable output'),
  ).action(async (options: Parameters<typeof runTokensList>[0]) => {
    await runTokensList(options, io);
  });
  storeOptions(
    tokens
      .command('revoke')
      .description('revoke one API token by the id `tokens list` shows')
      .argument('<id>', 'token id (8 or more hex digits)'),
  ).action(async (id: string, options: Parameters<typeof runTokensRevoke>[1]) => {
    await runTokensRevoke(id, options, io);
  });

  storeOptions(
    program
      .command('revoke')
      .description(
        'revoke every token of a user and refuse their earlier certificates, or one certificate by serial',
      )
      .option('--user <email>', 'the user')
      .option('--serial <n>', 'a certificate serial (see the certificate.issued audit events)'),
  ).action(async (options: Parameters<typeof runRevoke>[0]) => {
    await runRevoke(options, io);
  });

  registerRecordingsCommands(program, deps);
}
