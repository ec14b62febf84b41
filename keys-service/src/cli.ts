/**
 * The `neetodeploy-keys` command line: one commander program, built by {@link createProgram}
 * from registrar functions. Each command's work lives in its own module (`commands/*.ts`,
 * `run<Name>(options, deps)`); this file only declares. Exit codes are decided by main.ts.
 */
import { Command } from 'commander';
import {
  registerAdminCommands,
  registerKeysServiceCommands,
  type CommandDeps,
} from './commands/index.js';

/** Everything commands may use; built once in main.ts (the only reader of process.env/argv). */
export type CliDeps = CommandDeps;

/** Adds commands to the program. */
export type CommandRegistrar = (program: Command, deps: CliDeps) => void;

/**
 * Every group of commands, in help order. This is the single place to add more: the server
 * commands (`serve`, `users add`, `tokens create`, `revoke`) append their registrar here.
 */
export const COMMAND_REGISTRARS: readonly CommandRegistrar[] = [
  registerAdminCommands,
  registerKeysServiceCommands,
];

export function createProgram(
  deps: CliDeps,
  registrars: readonly CommandRegistrar[] = COMMAND_REGISTRARS,
): Command {
  const program = new Command('neetodeploy-keys')
    .description(
      'neetodeploy keys-service: SSH certificate authority, revocation lists and the HTTPS API',
    )
    .version('0.1.0', '-v, --version', 'print the version (-V too)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.io.stdout.write(s),
      writeErr: (s) => deps.io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of registrars) register(program, deps);
  return program;
}
