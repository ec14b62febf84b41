/**
 * CLI test environment: a real keys-service over HTTPS on 127.0.0.1 port 0 with a real local
 * platform (apps as process groups in a temp data dir), a CLI config dir in a temp home, and a
 * fake terminal so commands run in-process. Also spawns the real binary from source.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import type { Bastion } from '@neetodeploy/bastion';
import { createLocalPlatform } from '@neetodeploy/platform';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import type { Platform } from '@neetodeploy/platform';
import { runCli } from '../../cli/src/cli.js';
import { makeCliConfig, saveCredentials } from '../../cli/src/config.js';
import type { CliConfig } from '../../cli/src/config.js';
import type { Deps } from '../../cli/src/deps.js';
import type { Io } from '../../cli/src/io.js';
import { abortableSleep } from '../../cli/src/io.js';
import { createApiProvider } from '../../cli/src/session.js';
import { ROOT, SOURCE_NODE_ARGS, sourceBinArgs } from '../support/paths.js';
import { ALICE, BOB, startKeysService } from '../support/keys-service.js';
import { startBastionForKeysService } from '../support/bastion-for-keys-service.js';
import { freePort } from '../support/openssh.js';
import { startRelay, type Relay } from '../support/tcp-relay.js';
import type { TestKeysService } from '../support/keys-service.js';

export { ALICE, BOB };

export const CLI_POLICY = `
rules:
  - users: [${ALICE}]
    apps: ["*"]
    permissions: [exec, logs, config:read, config:write]
  - users: [${BOB}]
    apps: [demo]
    permissions: [logs]
`;

/** Prints numbered lines quickly so log tests need not wait. */
export const TICKER_PROCFILE = `web: i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.1; done\n`;

export interface FakeIo extends Io {
  readonly out: () => string;
  readonly err: () => string;
  readonly stdinStream: PassThrough;
  /** Simulates Ctrl-C. */
  interrupt(): void;
  /** URLs `openBrowser` was called with. */
  readonly opened: string[];
}

export function fakeIo(
  options: { onOpenBrowser?: (url: string) => Promise<void>; sleepScale?: number } = {},
): FakeIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const interruptListeners = new Set<() => void>();
  const opened: string[] = [];
  return {
    stdin,
    stdinStream: stdin,
    stdout,
    stderr,
    stdinIsTTY: false,
    stdoutIsTTY: false,
    term: 'xterm',
    setRawMode: () => undefined,
    terminalSize: () => undefined,
    onResize: () => () => undefined,
    onInterrupt(listener) {
      interruptListeners.add(listener);
      return () => interruptListeners.delete(listener);
    },
    canOpenBrowser: true,
    async openBrowser(url) {
      opened.push(url);
      await options.onOpenBrowser?.(url);
    },
    sleep: (ms, signal) => abortableSleep(ms * (options.sleepScale ?? 1), signal),
    hostname: 'test-laptop',
    out: () => out,
    err: () => err,
    interrupt() {
      for (const l of [...interruptListeners]) l();
    },
    opened,
  };
}

export interface CliEnv {
  readonly root: string;
  readonly ks: TestKeysService;
  readonly platform: Platform & { rescan(): Promise<void> };
  readonly platformDir: string;
  readonly caFile: string;
  readonly apiUrl: string;
  /** With `bastion` in the options: a real bastion in front of the same platform. */
  readonly bastion?: {
    readonly server: Bastion;
    readonly port: number;
    readonly hostPublicKey: string;
  };
  /** With `bastionFront`: the TCP relay the keys-service names instead of the bastion. */
  readonly front?: Relay;
  /** A fresh CLI config dir under a fresh home. */
  config(name: string, overrides?: CliConfig['overrides']): CliConfig;
  /** Stores credentials for `email` (token minted in the store) in that config. */
  loginAs(config: CliConfig, email: string): Promise<string>;
  deps(config: CliConfig, io?: FakeIo): Deps & { io: FakeIo };
  /** Runs argv in-process; resolves with exit code (0 unless the command returned one) or rejects. */
  run(config: CliConfig, argv: string[], io?: FakeIo): Promise<{ code: number; io: FakeIo }>;
  dispose(): Promise<void>;
}

export interface CliEnvOptions {
  readonly runProcesses?: boolean;
  readonly extraApps?: Record<string, string>;
  /**
   * Start a bastion: `pinned` makes the keys-service hand out its plain host key (what ssh2
   * clients can check); `ca` the `@cert-authority` line of the host CA.
   */
  readonly bastion?: 'pinned' | 'ca';
  /**
   * Put a TCP relay between clients and the bastion (needs `bastion`), which can drop
   * connections as an overloaded bastion does.
   */
  readonly bastionFront?: boolean;
}

export async function startCliEnv(options: CliEnvOptions = {}): Promise<CliEnv> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-cli-'));
  const platformDir = path.join(root, 'platform');
  for (const [app, procfile] of Object.entries(options.extraApps ?? {})) {
    fs.mkdirSync(path.join(platformDir, 'apps', app), { recursive: true });
    fs.writeFileSync(path.join(platformDir, 'apps', app, 'Procfile'), procfile);
  }
  const logger = pino({ level: process.env.CLI_TEST_LOG ?? 'silent' });
  const platform = await createLocalPlatform(
    {
      dataDir: platformDir,
      runProcesses: options.runProcesses ?? false,
      createDemoApp: true,
      limits: {
        logPollMs: 50,
        appScanMs: 60_000,
        stopGraceMs: 500,
        restartBackoffMs: 100,
        restartBackoffMaxMs: 1000,
        restartResetAfterMs: 10_000,
        maxLogFileBytes: 2 * 1024 * 1024,
        maxLogLineBytes: 16 * 1024,
        lockTimeoutMs: 5000,
      },
    },
    { logger },
  );
  const hostKey = generatePrivateKey('ssh-ed25519');
  const hostPublicKey = encodePublicKeyText(hostKey.publicKey);
  const bastionPort = options.bastion ? await freePort() : undefined;
  const frontPort = options.bastion && options.bastionFront ? await freePort() : undefined;
  let ks: TestKeysService;
  try {
    ks = await startKeysService({
      policy: CLI_POLICY,
      deps: { platform },
      config: {
        loginSessions: { ttlSeconds: 60, intervalSeconds: 1 },
        ...(bastionPort !== undefined
          ? {
              bastion: {
                host: '127.0.0.1',
                port: frontPort ?? bastionPort,
                ...(options.bastion === 'pinned' ? { pinnedHostKey: hostPublicKey } : {}),
              },
            }
          : {}),
      },
    });
  } catch (err) {
    await platform.close();
    throw err;
  }
  let bastion: CliEnv['bastion'];
  if (bastionPort !== undefined) {
    const { bastion: server } = await startBastionForKeysService({
      dir: path.join(root, 'bastion'),
      hostKey,
      keysService: ks,
      port: bastionPort,
      platform,
      logger,
    });
    bastion = { server, port: bastionPort, hostPublicKey };
  }
  const front =
    bastionPort !== undefined && frontPort !== undefined
      ? await startRelay(bastionPort, frontPort)
      : undefined;
  const caFile = path.join(root, 'api-ca.pem');
  fs.writeFileSync(caFile, ks.ca);
  const apiUrl = ks.address.url;

  const config = (name: string, overrides: CliConfig['overrides'] = {}): CliConfig => {
    const home = path.join(root, name, 'home');
    fs.mkdirSync(home, { recursive: true });
    return makeCliConfig({
      version: '0.1.0-test',
      dir: path.join(home, '.config', 'neetodeploy'),
      home,
      overrides,
      selfCommand: selfCommandForTests(),
    });
  };
  const deps = (cfg: CliConfig, io: FakeIo = fakeIo()): Deps & { io: FakeIo } => ({
    io,
    api: createApiProvider(cfg),
    config: cfg,
  });
  return {
    root,
    ks,
    platform,
    platformDir,
    caFile,
    apiUrl,
    ...(bastion ? { bastion } : {}),
    ...(front ? { front } : {}),
    config,
    async loginAs(cfg, email) {
      const token = await ks.token(email);
      await saveCredentials(cfg, { apiUrl, token, email, caFile });
      return token;
    },
    deps,
    async run(cfg, argv, io = fakeIo()) {
      const code = await runCli(argv, deps(cfg, io));
      return { code, io };
    },
    async dispose() {
      await front?.close();
      await bastion?.server.stop();
      await ks.dispose();
      await platform.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

function resolveFromRoot(spec: string): string {
  return pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve(spec)).href;
}

/** The CLI from source, runnable from any directory (the `tsx` loader resolved to a file URL). */
export function selfCommandForTests(): string[] {
  const args: string[] = [];
  for (let i = 0; i < SOURCE_NODE_ARGS.length; i++) {
    const a = SOURCE_NODE_ARGS[i] ?? '';
    if (a === '--import') args.push(`--import=${resolveFromRoot(SOURCE_NODE_ARGS[++i] ?? '')}`);
    else args.push(a);
  }
  return [process.execPath, ...args, sourceBinArgs('cli').at(-1) ?? ''];
}

export interface BinResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `neetodeploy` binary, from source unless `built`, with a clean environment plus
 * `env`.
 */
export function runBin(
  args: readonly string[],
  env: Record<string, string>,
  options: {
    input?: string;
    timeoutMs?: number;
    onStderr?: (text: string) => void;
    /** Working directory (default: the repository root). */
    cwd?: string;
    /** Run what users run, `cli/bin/neetodeploy.js` (the bundle `npm run build` made). */
    built?: boolean;
  } = {},
): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    // The tsx loader resolved to a file URL, so the binary also runs from other directories.
    const [node = process.execPath, ...nodeArgs] = options.built
      ? [process.execPath, path.join(ROOT, 'cli', 'bin', 'neetodeploy.js')]
      : selfCommandForTests();
    const child = spawn(node, [...nodeArgs, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
