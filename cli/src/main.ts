#!/usr/bin/env node
/**
 * The `neetodeploy` binary: the only place that reads the environment and argv, builds the real
 * terminal io, and maps typed errors to exit codes (0 ok, 1 error, 2 usage or cancelled, 4 not
 * logged in or token expired, 255 the SSH connection failed; `exec` exits with the remote code).
 */
import fs from 'node:fs';
import os from 'node:os';
import { cachedCertificateIsFresh } from './cert-cache.js';
import { appFromGitConfig, findGitConfig, makeCliConfig, resolveConfigDir } from './config.js';
import type { CliConfig } from './config.js';
import { CliError } from './errors.js';
import { shortenLongRuns } from './format.js';
import type { Io } from './io.js';
import { abortableSleep } from './io.js';
import { createApiProvider, currentCredentialTag } from './session.js';
import { colorEnabled, progressEnabled, stderrPaint } from './terminal.js';
import { cliVersion } from './version.js';

const EXIT = { ok: 0, error: 1, usage: 2, auth: 4, sshConnection: 255 } as const;

let swallowingInterrupts = false;

function processIo(env: NodeJS.ProcessEnv): Io {
  const hasDisplay =
    process.platform === 'darwin' ||
    process.platform === 'win32' ||
    Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
    stdoutIsTTY: process.stdout.isTTY === true,
    showProgress: progressEnabled(process.stderr.isTTY === true, env),
    stderrColor: colorEnabled(process.stderr.isTTY === true, env),
    term: env.TERM || 'xterm-256color',
    setRawMode(raw) {
      if (process.stdin.isTTY) process.stdin.setRawMode(raw);
    },
    terminalSize() {
      const tty = process.stdout.isTTY
        ? process.stdout
        : process.stderr.isTTY
          ? process.stderr
          : undefined;
      return tty && tty.columns > 0 ? { cols: tty.columns, rows: tty.rows } : undefined;
    },
    onResize(listener) {
      process.on('SIGWINCH', listener);
      return () => process.off('SIGWINCH', listener);
    },
    onInterrupt(listener) {
      // The terminal echoed ^C without a line break: what we print next starts on a new line.
      const onSigint = (): void => {
        if (process.stderr.isTTY) process.stderr.write('\n');
        // Once handled, a second SIGINT must not kill us while we wind down: a parent that
        // forwards the terminal's SIGINT (npm's run-script does) delivers it twice.
        if (!swallowingInterrupts) {
          swallowingInterrupts = true;
          process.on('SIGINT', () => undefined);
        }
        listener();
      };
      process.on('SIGINT', onSigint);
      return () => process.off('SIGINT', onSigint);
    },
    canOpenBrowser: hasDisplay,
    async openBrowser(url) {
      const { default: open } = await import('open');
      const child = await open(url);
      child.unref();
    },
    sleep: abortableSleep,
    hostname: os.hostname(),
  };
}

/** argv that runs this same CLI again, with `--import` specifiers made absolute (ssh runs it anywhere). */
function selfCommand(): string[] {
  const args: string[] = [];
  const execArgv = process.execArgv;
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] ?? '';
    if (arg === '--import' && i + 1 < execArgv.length) {
      args.push(`--import=${resolveSpecifier(execArgv[++i] ?? '')}`);
    } else if (arg.startsWith('--import=')) {
      args.push(`--import=${resolveSpecifier(arg.slice('--import='.length))}`);
    } else {
      args.push(arg);
    }
  }
  return [process.execPath, ...args, process.argv[1] ?? ''];
}

function resolveSpecifier(spec: string): string {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.includes(':')) return spec;
  try {
    return import.meta.resolve(spec);
  } catch {
    return spec;
  }
}

/** `-a`'s default: NEETODEPLOY_APP, else the git remote named `neetodeploy` (as Heroku does). */
function defaultApp(env: NodeJS.ProcessEnv): CliConfig['defaultApp'] {
  if (env.NEETODEPLOY_APP) return { app: env.NEETODEPLOY_APP, from: 'NEETODEPLOY_APP' };
  try {
    const file = findGitConfig(process.cwd());
    const app = file !== undefined ? appFromGitConfig(fs.readFileSync(file, 'utf8')) : undefined;
    return app !== undefined ? { app, from: 'the git remote neetodeploy' } : undefined;
  } catch {
    return undefined;
  }
}

function buildConfig(env: NodeJS.ProcessEnv): CliConfig {
  const home = env.HOME || os.homedir();
  return makeCliConfig({
    version: cliVersion(),
    dir: resolveConfigDir(env, home),
    home,
    overrides: {
      ...(env.NEETODEPLOY_TOKEN ? { token: env.NEETODEPLOY_TOKEN } : {}),
      ...(env.NEETODEPLOY_API_URL ? { apiUrl: env.NEETODEPLOY_API_URL } : {}),
      ...(env.NEETODEPLOY_CA_FILE ? { caFile: env.NEETODEPLOY_CA_FILE } : {}),
    },
    selfCommand: selfCommand(),
  });
}

/** Commander's errors, told apart without loading commander on the fast paths. */
interface CommanderLikeError {
  readonly code: string;
}
function isCommanderError(err: unknown): err is CommanderLikeError {
  const code = (err as Partial<CommanderLikeError> | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

function exitCodeFor(err: unknown): number {
  if (isCommanderError(err)) {
    return err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
      ? EXIT.ok
      : EXIT.usage;
  }
  if (err instanceof CliError) {
    if (err.kind === 'auth') return EXIT.auth;
    if (err.kind === 'ssh-connection') return EXIT.sshConnection;
    if (err.kind === 'usage' || err.kind === 'cancelled') return EXIT.usage;
  }
  return EXIT.error;
}

/** A raw-mode terminal left behind makes the user's shell unusable: restore it however we exit. */
function guardTerminal(): void {
  const restore = (): void => {
    if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
  };
  process.on('exit', restore);
  for (const [signal, number] of [
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    process.once(signal, () => {
      restore();
      process.exit(128 + number);
    });
  }
}

const VERSION_FLAGS = new Set(['--version', '-v', '-V']);

/**
 * Start-up fast paths that load none of commander, zod, ssh2 or the HTTP client: `--version`,
 * and `ssh-cert HOST` when HOST's cached certificate is still good (ssh_config's `Match exec`
 * runs that before every `ssh APP.neetodeploy`). Resolves with an exit code, or undefined to
 * run the full CLI.
 */
async function fastPath(argv: readonly string[], config: CliConfig): Promise<number | undefined> {
  if (argv.length === 1 && VERSION_FLAGS.has(argv[0] ?? '')) {
    process.stdout.write(`${config.version}\n`);
    return 0;
  }
  if (argv.length === 2 && argv[0] === 'ssh-cert' && !(argv[1] ?? '-').startsWith('-')) {
    const tag = await currentCredentialTag(config);
    if (tag === undefined) return undefined;
    const fresh = cachedCertificateIsFresh({
      keysDir: config.keysDir,
      host: argv[1] ?? '',
      tag,
      now: new Date(),
    });
    return fresh ? 0 : undefined;
  }
  return undefined;
}

async function main(): Promise<number> {
  const env = process.env;
  const argv = process.argv.slice(2);
  let config = buildConfig(env);
  const fast = await fastPath(argv, config);
  if (fast !== undefined) return fast;
  const app = defaultApp(env);
  if (app !== undefined) config = { ...config, defaultApp: app };
  guardTerminal();
  const io = processIo(env);
  try {
    const { runCli } = await import('./cli.js');
    return await runCli(argv, { io, api: createApiProvider(config), config });
  } catch (err) {
    const code = exitCodeFor(err);
    // Commander already printed its own usage errors.
    if (!isCommanderError(err)) {
      const message =
        err instanceof CliError
          ? err.message
          : `unexpected error: ${(err as Error).message ?? String(err)}`;
      process.stderr.write(
        `${stderrPaint(io).error('neetodeploy:')} ${shortenLongRuns(message)}\n`,
      );
      if (!(err instanceof CliError) && env.NEETODEPLOY_DEBUG) console.error(err);
    }
    return code;
  }
}

const code = await main();
// Exit only after stdout is flushed to a pipe, and without waiting for stdin or sockets.
process.stdout.write('', () => process.exit(code));
