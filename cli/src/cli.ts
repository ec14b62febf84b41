/**
 * Every command of `neetodeploy`, declared here and only here; each action calls one
 * `run<Name>(options, deps)`.
 */
import { Command, Option } from 'commander';
import { runApps } from './commands/apps.js';
import { runConfigGet } from './commands/config-get.js';
import { runConfigSet } from './commands/config-set.js';
import { runConfigUnset } from './commands/config-unset.js';
import { runConfig } from './commands/config.js';
import { runExec } from './commands/exec.js';
import { runLogin } from './commands/login.js';
import { runLogout } from './commands/logout.js';
import { runLogs } from './commands/logs.js';
import { runSshCert } from './commands/ssh-cert.js';
import { runSshConfig } from './commands/ssh-config.js';
import { runWhoami } from './commands/whoami.js';
import type { Deps } from './deps.js';

function example(lines: string): string {
  return `\nExample:\n${lines
    .trim()
    .split('\n')
    .map((l) => `  $ ${l.trim()}`)
    .join('\n')}\n`;
}

const appOption = (): Option => new Option('-a, --app <app>', 'the app').makeOptionMandatory();

/**
 * Builds the program. `result.code` holds the exit code a command asked for (exec's remote
 * code); errors propagate to the caller (`main.ts`), which maps them to exit codes.
 */
export function createProgram(deps: Deps): { program: Command; result: { code: number } } {
  const result = { code: 0 };
  const done = (code: number | void): void => {
    result.code = typeof code === 'number' ? code : 0;
  };
  const program = new Command('neetodeploy')
    .description('Shells, logs and config vars of your neetoDeploy apps')
    .version(deps.config.version, '-v, --version')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.io.stdout.write(s),
      writeErr: (s) => deps.io.stderr.write(s),
    })
    .addHelpText(
      'after',
      example(
        'neetodeploy login --api https://127.0.0.1:8443 --ca-file ./ca.pem\nneetodeploy exec -a demo',
      ),
    );

  program
    .command('login')
    .description('sign in through the browser and store an API token')
    .option('--api <url>', 'the keys-service URL (default: the last one, or NEETODEPLOY_API_URL)')
    .option('--ca-file <file>', 'trust this CA for the API (the file `npm start` prints)')
    .option('--no-browser', 'only print the URL to open')
    .addHelpText(
      'after',
      example(
        'neetodeploy login --api https://127.0.0.1:8443 --ca-file .neetodeploy-data/tls/ca.pem',
      ),
    )
    .action(async (opts: { api?: string; caFile?: string; browser: boolean }) => {
      done(await runLogin(opts, deps));
    });

  program
    .command('logout')
    .description('revoke the API token and forget it')
    .addHelpText('after', example('neetodeploy logout'))
    .action(async () => {
      done(await runLogout({}, deps));
    });

  program
    .command('whoami')
    .description('show who you are signed in as')
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy whoami'))
    .action(async (opts: { json?: boolean }) => {
      done(await runWhoami(opts, deps));
    });

  program
    .command('apps')
    .description('list the apps you may use and your permissions on each')
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy apps --json'))
    .action(async (opts: { json?: boolean }) => {
      done(await runApps(opts, deps));
    });

  program
    .command('config')
    .description("show an app's config vars")
    .addOption(appOption())
    .option('--json', 'as a JSON object')
    .option('--shell', 'as KEY=value lines (shell-quoted when needed)')
    .addHelpText('after', example('neetodeploy config -a demo --shell > .env'))
    .action(async (opts: { app: string; json?: boolean; shell?: boolean }) => {
      done(await runConfig(opts, deps));
    });

  program
    .command('config:get')
    .description('print one config var')
    .addOption(appOption())
    .argument('<key>', 'the config var')
    .addHelpText('after', example('neetodeploy config:get -a demo DATABASE_URL'))
    .action(async (key: string, opts: { app: string }) => {
      done(await runConfigGet({ app: opts.app, key }, deps));
    });

  program
    .command('config:set')
    .description('set config vars and restart the app')
    .addOption(appOption())
    .argument('[pairs...]', 'KEY=VALUE pairs')
    .option(
      '--file <file>',
      'read KEY=VALUE lines from a .env file (pairs on the command line win)',
    )
    .option('--no-restart', 'do not restart the app')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', example('neetodeploy config:set -a demo GREETING=hello LOG_LEVEL=debug'))
    .action(
      async (
        pairs: string[],
        opts: { app: string; file?: string; restart: boolean; json?: boolean },
      ) => {
        done(await runConfigSet({ ...opts, pairs }, deps));
      },
    );

  program
    .command('config:unset')
    .description('remove config vars and restart the app')
    .addOption(appOption())
    .argument('<keys...>', 'the config vars to remove')
    .option('--no-restart', 'do not restart the app')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', example('neetodeploy config:unset -a demo GREETING'))
    .action(async (keys: string[], opts: { app: string; restart: boolean; json?: boolean }) => {
      done(await runConfigUnset({ ...opts, keys }, deps));
    });

  program
    .command('logs')
    .description("show an app's logs, merged from all its processes")
    .addOption(appOption())
    .option('-t, --tail', 'keep streaming new lines (Ctrl-C stops)')
    .option('-n, --num <lines>', 'how many past lines (default 100)')
    .option('-p, --process <type>', 'only this process type, e.g. web')
    .option('--since <when>', 'only lines newer than this: 10m, 2h, 1d or an ISO 8601 time')
    .option('--json', 'one JSON object per line')
    .addHelpText(
      'after',
      example('neetodeploy logs -a demo -n 20\nneetodeploy logs -a demo --tail -p web'),
    )
    .action(
      async (opts: {
        app: string;
        tail?: boolean;
        num?: string;
        process?: string;
        since?: string;
        json?: boolean;
      }) => {
        done(await runLogs(opts, deps));
      },
    );

  program
    .command('exec')
    .description('open a shell on the app, or run a command there (exit code passed through)')
    .addOption(appOption())
    .addOption(
      new Option('--process <type>', 'exec into a running instance of this process type').conflicts(
        'pod',
      ),
    )
    .addOption(
      new Option('--pod <name>', 'exec into this pod / instance (e.g. web.1)').conflicts('process'),
    )
    .argument('[command...]', 'the command to run (after --); none: an interactive shell')
    .passThroughOptions()
    .addHelpText(
      'after',
      example(
        'neetodeploy exec -a demo\nneetodeploy exec -a demo -- printenv GREETING\necho ls | neetodeploy exec -a demo',
      ),
    )
    .action(async (command: string[], opts: { app: string; process?: string; pod?: string }) => {
      done(await runExec({ ...opts, command }, deps));
    });

  program
    .command('ssh-config')
    .description('print (or install) the ssh_config that makes `ssh APP.neetodeploy` work')
    .option('--install', 'write it under the config dir and Include it from ~/.ssh/config')
    .addHelpText('after', example('neetodeploy ssh-config --install\nssh demo.neetodeploy'))
    .action(async (opts: { install?: boolean }) => {
      done(await runSshConfig(opts, deps));
    });

  program
    .command('ssh-cert')
    .description('renew the key and certificate ssh uses for APP.neetodeploy (run by ssh_config)')
    .argument('<host>', 'APP.neetodeploy')
    .option('--force', 'renew even if the certificate is still valid')
    .addHelpText('after', example('neetodeploy ssh-cert demo.neetodeploy'))
    .action(async (host: string, opts: { force?: boolean }) => {
      done(await runSshCert({ host, ...opts }, deps));
    });

  return { program, result };
}

/** Parses `argv` (without node and script) and runs the command; resolves with its exit code. */
export async function runCli(argv: readonly string[], deps: Deps): Promise<number> {
  const { program, result } = createProgram(deps);
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  await program.parseAsync([...argv], { from: 'user' });
  return result.code;
}
