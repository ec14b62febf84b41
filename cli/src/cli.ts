/**
 * Every command of `neetodeploy`, declared here and only here; each action calls one
 * `run<Name>(options, deps)`. Commands are imported when they run (changesets' `cli.ts` does
 * the same): a command pays only for the modules it needs (exec: ssh2; config: the HTTP
 * client), and `--help` for none of them.
 */
import { Command, Option } from 'commander';
import type { CompletedCommand } from './commands/completion.js';
import type { Deps } from './deps.js';

function example(lines: string): string {
  return `\nExample:\n${lines
    .trim()
    .split('\n')
    .map((l) => `  $ ${l.trim()}`)
    .join('\n')}\n`;
}

/** Commander's accumulator for a repeatable option (exec's `-e`). */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Builds the program. `result.code` holds the exit code a command asked for (exec's remote
 * code); errors propagate to the caller (`main.ts`), which maps them to exit codes.
 */
export function createProgram(deps: Deps): { program: Command; result: { code: number } } {
  const result = { code: 0 };
  const defaultApp = deps.config.defaultApp;
  const appOption = (): Option =>
    defaultApp
      ? new Option('-a, --app <app>', 'the app')
          .default(defaultApp.app, `${defaultApp.app}, from ${defaultApp.from}`)
          .makeOptionMandatory()
      : new Option(
          '-a, --app <app>',
          'the app (or set NEETODEPLOY_APP, or add a git remote named neetodeploy)',
        ).makeOptionMandatory();
  const done = (code: number | void): void => {
    result.code = typeof code === 'number' ? code : 0;
  };
  const program = new Command('neetodeploy')
    .description('Shells, logs and config vars of your neetoDeploy apps')
    .version(deps.config.version, '-v, --version', 'print the version (-V too)')
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
        'neetodeploy login --api https://127.0.0.1:8443 --ca-file .neetodeploy-data/tls/ca.crt\nneetodeploy exec -a demo',
      ),
    );

  program
    .command('login')
    .description('sign in through the browser and store an API token')
    .option('--api <url>', 'the keys-service URL (default: the last one, or NEETODEPLOY_API_URL)')
    .option('--ca-file <file>', 'trust this CA for the API (the file `npm start` prints)')
    .option('--no-browser', 'only print the URL to open')
    .option('--with-token', 'read an API token from stdin instead (scripts, CI)')
    .addHelpText(
      'after',
      example(
        'neetodeploy login --api https://127.0.0.1:8443 --ca-file .neetodeploy-data/tls/ca.crt\necho "$TOKEN" | neetodeploy login --with-token',
      ),
    )
    .action(
      async (opts: { api?: string; caFile?: string; browser: boolean; withToken?: boolean }) => {
        const { runLogin } = await import('./commands/login.js');
        done(await runLogin(opts, deps));
      },
    );

  program
    .command('logout')
    .description('revoke the API token and forget it')
    .addHelpText('after', example('neetodeploy logout'))
    .action(async () => {
      const { runLogout } = await import('./commands/logout.js');
      done(await runLogout({}, deps));
    });

  program
    .command('auth')
    .description('the stored login')
    .command('status')
    .description('who is logged in on which API, and until when (offline: asks no server)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy auth status'))
    .action(async (opts: { json?: boolean }) => {
      const { runAuthStatus } = await import('./commands/auth-status.js');
      done(await runAuthStatus(opts, deps));
    });

  program
    .command('whoami')
    .description('show who you are signed in as')
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy whoami'))
    .action(async (opts: { json?: boolean }) => {
      const { runWhoami } = await import('./commands/whoami.js');
      done(await runWhoami(opts, deps));
    });

  program
    .command('apps')
    .description('list the apps you may use and your permissions on each')
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy apps --json'))
    .action(async (opts: { json?: boolean }) => {
      const { runApps } = await import('./commands/apps.js');
      done(await runApps(opts, deps));
    });

  program
    .command('ps')
    .description("list an app's process types and instances, with state and age")
    .addOption(appOption())
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy ps -a demo'))
    .action(async (opts: { app: string; json?: boolean }) => {
      const { runPs } = await import('./commands/ps.js');
      done(await runPs(opts, deps));
    });

  program
    .command('config')
    .description("show an app's config vars")
    .addOption(appOption())
    .option('--json', 'as a JSON object')
    .option('--shell', 'as KEY=value lines (shell-quoted when needed)')
    .addHelpText('after', example('neetodeploy config -a demo --shell > .env'))
    .action(async (opts: { app: string; json?: boolean; shell?: boolean }) => {
      const { runConfig } = await import('./commands/config.js');
      done(await runConfig(opts, deps));
    });

  program
    .command('config:get')
    .description('print one config var')
    .addOption(appOption())
    .argument('<key>', 'the config var')
    .addHelpText('after', example('neetodeploy config:get -a demo DATABASE_URL'))
    .action(async (key: string, opts: { app: string }) => {
      const { runConfigGet } = await import('./commands/config-get.js');
      done(await runConfigGet({ app: opts.app, key }, deps));
    });

  program
    .command('config:set')
    .description('set config vars and restart the app')
    .addOption(appOption())
    .argument('[pairs...]', 'KEY=VALUE pairs')
    .option(
      '--file <file>',
      'read KEY=VALUE lines from a .env file, or - for stdin (pairs on the command line win)',
    )
    .option('--no-restart', 'do not restart the app')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      example(
        'neetodeploy config:set -a demo GREETING=hello LOG_LEVEL=debug\nneetodeploy config -a demo --shell | neetodeploy config:set -a other --file -',
      ),
    )
    .action(
      async (
        pairs: string[],
        opts: { app: string; file?: string; restart: boolean; json?: boolean },
      ) => {
        const { runConfigSet } = await import('./commands/config-set.js');
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
      const { runConfigUnset } = await import('./commands/config-unset.js');
      done(await runConfigUnset({ ...opts, keys }, deps));
    });

  program
    .command('logs')
    .description("show an app's logs, merged from all its processes")
    .addOption(appOption())
    .option('-t, --tail', 'keep streaming new lines (Ctrl-C stops)')
    .addOption(new Option('-f, --follow', 'the same as --tail').hideHelp())
    .option('-n, --num <lines>', 'how many past lines (default 100, at most 10000)')
    .option('-p, --process <name>', 'only this process type (web) or instance (web.1)')
    .option('--since <when>', 'only lines newer than this: 10m, 2h, 1d or an ISO 8601 time')
    .option('--json', 'one JSON object per line')
    .addHelpText(
      'after',
      example('neetodeploy logs -a demo -n 20\nneetodeploy logs -a demo --tail -p web.1'),
    )
    .action(
      async (opts: {
        app: string;
        tail?: boolean;
        follow?: boolean;
        num?: string;
        process?: string;
        since?: string;
        json?: boolean;
      }) => {
        const { runLogs } = await import('./commands/logs.js');
        const { follow, ...rest } = opts;
        done(await runLogs({ ...rest, tail: Boolean(rest.tail || follow) }, deps));
      },
    );

  program
    .command('sessions')
    .description("list an app's recorded console sessions, newest first")
    .addOption(appOption())
    .option('--user <email>', "only this person's sessions")
    .option('--since <when>', 'only sessions started since: 30m, 2h, 7d, a date or an ISO time')
    .option('-n, --num <count>', 'at most this many (default 50)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', example('neetodeploy sessions -a demo --since 1d'))
    .action(
      async (opts: {
        app: string;
        user?: string;
        since?: string;
        num?: string;
        json?: boolean;
      }) => {
        const { runSessions } = await import('./commands/sessions.js');
        done(await runSessions(opts, deps));
      },
    );

  program
    .command('sessions:play')
    .description('replay a recorded session in this terminal (Ctrl-C stops)')
    .argument('<id>', 'the session id `neetodeploy sessions` shows')
    .option('--speed <n>', 'play n times faster (0: print at once)', '1')
    .option('--no-wait', 'print everything at once (the same as --speed 0)')
    .addHelpText(
      'after',
      example('neetodeploy sessions:play 3f2b0c1e-0000-4000-8000-000000000001 --speed 4'),
    )
    .action(async (id: string, opts: { speed?: string; wait: boolean }) => {
      const { runSessionsPlay } = await import('./commands/sessions-play.js');
      done(await runSessionsPlay({ id, ...opts }, deps));
    });

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
    .option('-e, --env <KEY=VALUE>', 'set a variable for this console (repeatable)', collect)
    .addOption(new Option('-t', 'force a pty (as ssh -t)').conflicts('T'))
    .addOption(new Option('-T', 'never a pty (as ssh -T)').conflicts('t'))
    .argument(
      '[command...]',
      'after --: one argument is a shell command line (as `ssh host CMD`); two or more are ' +
        'an argument vector passed unchanged (as `kubectl exec`); none: an interactive shell',
    )
    .passThroughOptions()
    .addHelpText(
      'after',
      '\nExit code: the remote one; 128+N when it died of signal N; 255 when the bastion could\n' +
        'not be reached or the connection was lost (with a one-line reason on stderr).\n' +
        example(`neetodeploy exec -a demo
          neetodeploy exec -a demo -- 'ls *.log | wc -l'
          neetodeploy exec -a demo -- printf '<%s>\\n' 'a b' "c'd"
          neetodeploy exec -a demo -e LOG_LEVEL=debug -- printenv LOG_LEVEL
          echo ls | neetodeploy exec -a demo`),
    )
    .action(
      async (
        command: string[],
        opts: { app: string; process?: string; pod?: string; env?: string[]; t?: true; T?: true },
      ) => {
        const { runExec } = await import('./commands/exec.js');
        const { t, T, ...rest } = opts;
        const tty = t ? true : T ? false : undefined;
        done(await runExec({ ...rest, command, ...(tty !== undefined ? { tty } : {}) }, deps));
      },
    );

  program
    .command('port-forward')
    .description("forward local ports to ports of an app's running process (Ctrl-C stops)")
    .addOption(appOption())
    .addOption(
      new Option(
        '--process <type>',
        'a running instance of this process type (default: web)',
      ).conflicts('pod'),
    )
    .addOption(new Option('--pod <name>', 'this pod / instance (e.g. web.1)').conflicts('process'))
    .argument('<ports...>', '[LOCAL:]REMOTE: LOCAL defaults to REMOTE; 0 picks a free port')
    .addHelpText(
      'after',
      '\nListens on 127.0.0.1 only. Needs the port-forward permission on the app.\n' +
        example(`neetodeploy port-forward -a demo 8080
          neetodeploy port-forward -a demo --process worker 15432:5432 0:9229`),
    )
    .action(async (ports: string[], opts: { app: string; process?: string; pod?: string }) => {
      const { runPortForward } = await import('./commands/port-forward.js');
      done(await runPortForward({ ...opts, ports }, deps));
    });

  program
    .command('ssh-config')
    .description('print (or install) the ssh_config that makes `ssh APP.neetodeploy` work')
    .option('--install', 'write it under the config dir and Include it from ~/.ssh/config')
    .addHelpText('after', example('neetodeploy ssh-config --install\nssh demo.neetodeploy'))
    .action(async (opts: { install?: boolean }) => {
      const { runSshConfig } = await import('./commands/ssh-config.js');
      done(await runSshConfig(opts, deps));
    });

  program
    .command('ssh-cert')
    .description('renew the key and certificate ssh uses for APP.neetodeploy (run by ssh_config)')
    .argument('<host>', 'APP.neetodeploy')
    .option('--force', 'renew even if the certificate is still valid')
    .addHelpText('after', example('neetodeploy ssh-cert demo.neetodeploy'))
    .action(async (host: string, opts: { force?: boolean }) => {
      const { runSshCert } = await import('./commands/ssh-cert.js');
      done(await runSshCert({ host, ...opts }, deps));
    });

  program
    .command('completion')
    .description('print a shell completion script for bash or zsh')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      example(
        'source <(neetodeploy completion bash)\nneetodeploy completion zsh > "${fpath[1]}/_neetodeploy"',
      ),
    )
    .action(async (shell: string) => {
      const { runCompletion } = await import('./commands/completion.js');
      done(await runCompletion({ shell, commands: describeCommands(program) }, deps));
    });

  return { program, result };
}

/** Every command and subcommand with its visible flags, for completion scripts. */
function describeCommands(program: Command, prefix = ''): CompletedCommand[] {
  return program.commands.flatMap((c) => {
    const name = `${prefix}${c.name()}`;
    if (c.commands.length > 0) return describeCommands(c, `${name} `);
    const flags = c.options
      .filter((o) => !o.hidden)
      .flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
    return [{ name, description: c.description(), flags }];
  });
}

/** Parses `argv` (without node and script) and runs the command; resolves with its exit code. */
export async function runCli(argv: readonly string[], deps: Deps): Promise<number> {
  const { program, result } = createProgram(deps);
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  // `-V` as the other binaries (keys-service) spell it; commander takes one short flag.
  const args = argv[0] === '-V' ? ['--version', ...argv.slice(1)] : [...argv];
  await program.parseAsync(args, { from: 'user' });
  return result.code;
}
