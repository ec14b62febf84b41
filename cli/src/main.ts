#!/usr/bin/env node
/**
 * The `neetodeploy` binary: the only place that reads the environment and argv, builds the real
 * terminal io, and maps typed errors to exit codes (0 ok, 1 error, 2 usage or cancelled, 4 not
 * logged in or token expired; `exec` exits with the remote code).
 */
import os from 'node:os';
import { CommanderError } from 'commander';
import { runCli } from './cli.js';
import { makeCliConfig, resolveConfigDir } from './config.js';
import type { CliConfig } from './config.js';
import { CliError } from './errors.js';
import type { Io } from './io.js';
import { abortableSleep } from './io.js';
import { createApiProvider } from './session.js';
import { cliVersion } from './version.js';

const EXIT = { ok: 0, error: 1, usage: 2, auth: 4 } as const;

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
      process.on('SIGINT', listener);
      return () => process.off('SIGINT', listener);
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

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
      ? EXIT.ok
      : EXIT.usage;
  }
  if (err instanceof CliError) {
    if (err.kind === 'auth') return EXIT.auth;
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

async function main(): Promise<number> {
  const env = process.env;
  guardTerminal();
  const io = processIo(env);
  const config = buildConfig(env);
  try {
    return await runCli(process.argv.slice(2), { io, api: createApiProvider(config), config });
  } catch (err) {
    const code = exitCodeFor(err);
    // Commander already printed its own usage errors.
    if (!(err instanceof CommanderError)) {
      const message =
        err instanceof CliError
          ? err.message
          : `unexpected error: ${(err as Error).message ?? String(err)}`;
      process.stderr.write(`neetodeploy: ${message}\n`);
      if (!(err instanceof CliError) && env.NEETODEPLOY_DEBUG) console.error(err);
    }
    return code;
  }
}

const code = await main();
// Exit only after stdout is flushed to a pipe, and without waiting for stdin or sockets.
process.stdout.write('', () => process.exit(code));
