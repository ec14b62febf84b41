/**
 * Every path a developer runs a command by, set up once against one local platform: the CLI,
 * stock `ssh` to the bastion, stock `ssh` through ProxyJump, and OpenSSH's own `sshd` (the
 * reference). Both servers sit behind a relay so a test can cut connections mid-command.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import type { Bastion } from '@neetodeploy/bastion';
import { createLocalPlatform } from '@neetodeploy/platform';
import type { Platform } from '@neetodeploy/platform';
import { encodePrivateKey, encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import { runCli } from '../../cli/src/cli.js';
import { makeCliConfig, saveCredentials } from '../../cli/src/config.js';
import { remoteCommand } from '../../cli/src/exec/command-line.js';
import type { Deps } from '../../cli/src/deps.js';
import type { Io } from '../../cli/src/io.js';
import { createApiProvider } from '../../cli/src/session.js';
import { PassThrough } from 'node:stream';
import { fakeIo, CLI_POLICY } from '../cli/harness.js';
import { ALICE, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import { freePort, sshKeygen, startSshd } from '../support/openssh.js';
import type { SshdHandle } from '../support/openssh.js';
import { ROOT, sourceBinArgs } from '../support/paths.js';
import type { PathName } from './cases.js';
import { startRelay } from '../support/tcp-relay.js';
import type { Relay } from '../support/tcp-relay.js';

export interface Invocation {
  readonly argv: readonly string[];
  readonly pty?: boolean;
}

export interface ExecPath {
  readonly name: PathName;
  /** The process to spawn for one run. */
  command(inv: Invocation): { file: string; args: string[]; env: NodeJS.ProcessEnv };
  /** Cuts every connection of this path, as a network failure would. */
  drop(): void;
  /**
   * The same run inside this process, when the path has one (the CLI: spawning it from source
   * costs seconds of CPU on a loaded machine, so most cases run its `runExec` in-process).
   */
  inProcess?(inv: Invocation, options: RunOptions): Promise<RunOutcome>;
}

export interface RunOptions {
  readonly stdin?: Buffer | string;
  /** The reader sleeps this long first (pipes fill, the writer must wait). */
  readonly readDelayMs?: number;
  readonly timeoutMs?: number;
  readonly onStdout?: (all: Buffer) => void;
}

export interface ConformanceEnv {
  readonly paths: readonly ExecPath[];
  readonly platform: Platform;
  /** Runs `neetodeploy exec` in this process (cheap, for many concurrent runs). */
  execInProcess(argv: readonly string[]): Promise<{ code: number; out: string; err: string }>;
  dispose(): Promise<void>;
}

const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' };

export async function startConformanceEnv(): Promise<ConformanceEnv> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-exec-conf-'));
  const logger = pino({ level: process.env.CLI_TEST_LOG ?? 'silent' });
  const cleanups: Array<() => Promise<void> | void> = [
    () => fs.rmSync(root, { recursive: true, force: true }),
  ];
  const dispose = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const platform = await createLocalPlatform(
      { dataDir: path.join(root, 'platform'), runProcesses: false, createDemoApp: true },
      { logger },
    );
    cleanups.push(() => platform.close());
    const bastionPort = await freePort();
    const relay = await startRelay(bastionPort);
    cleanups.push(() => relay.close());
    const hostKey = generatePrivateKey('ssh-ed25519');
    const hostPublicKey = encodePublicKeyText(hostKey.publicKey);
    const ks = await startKeysService({
      policy: CLI_POLICY,
      deps: { platform },
      config: { bastion: { host: '127.0.0.1', port: relay.port, pinnedHostKey: hostPublicKey } },
    });
    cleanups.push(() => ks.dispose());
    const bastion = await startBastion(root, hostKey, ks, bastionPort, platform);
    cleanups.push(() => bastion.stop());
    const cli = await cliPath(root, ks, relay);
    const sshd = await startReferenceSshd(root);
    cleanups.push(() => sshd.handle.stop());
    const sshConfig = writeSshConfig(root, {
      relayPort: relay.port,
      sshdPort: sshd.relay.port,
      hostPublicKey,
      sshdHostKey: sshd.handle.hostKeyLine,
      keysDir: cli.keysDir,
      sshdKey: sshd.keyFile,
    });
    cleanups.push(() => sshd.relay.close());
    const ssh = (name: PathName, host: string, r: Relay): ExecPath => ({
      name,
      command: (inv) => ({
        file: 'ssh',
        args: ['-F', sshConfig, inv.pty ? '-tt' : '-T', host, remoteCommand(inv.argv) ?? ''],
        env: { ...BASE_ENV, HOME: root },
      }),
      drop: () => r.dropAll(),
    });
    return {
      paths: [
        cli.path,
        ssh('ssh-direct', 'nd-direct', relay),
        ssh('ssh-jump', 'demo.neetodeploy', relay),
        ssh('sshd', 'sshd-ref', sshd.relay),
      ],
      platform,
      execInProcess: cli.inProcess,
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** A bastion with room for the suite's concurrent runs from one address and one user. */
async function startBastion(
  root: string,
  hostKey: ReturnType<typeof generatePrivateKey>,
  ks: TestKeysService,
  port: number,
  platform: Platform,
): Promise<Bastion> {
  const dir = path.join(root, 'bastion');
  fs.mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, 'ssh_host_ed25519_key');
  fs.writeFileSync(keyFile, encodePrivateKey(hostKey), { mode: 0o600 });
  const userCas = path.join(dir, 'user_ca.pub');
  fs.writeFileSync(userCas, `${ks.service.authorities.userCaKeyLines.join('\n')}\n`);
  const bastion = createBastion(
    parseBastionConfig({
      listen: { host: '127.0.0.1', port },
      name: '127.0.0.1',
      hostKeys: [{ privateKeyFile: keyFile }],
      trust: { static: { userCaKeyFiles: [userCas] } },
      log: { level: 'silent' },
      limits: {
        maxStartups: { begin: 200, rate: 30, full: 400 },
        perIpUnauthenticated: 200,
        perIpConnections: 400,
        maxSessionsPerUser: 200,
      },
      session: { envAllow: ['LANG', 'LC_*', 'TERM', 'ND_CONF_*'] },
    }),
    { platform, logger: pino({ level: process.env.BASTION_TEST_LOG ?? 'silent' }) },
  );
  await bastion.start();
  return bastion;
}

async function cliPath(
  root: string,
  ks: TestKeysService,
  relay: Relay,
): Promise<{ path: ExecPath; keysDir: string; inProcess: ConformanceEnv['execInProcess'] }> {
  const home = path.join(root, 'cli-home');
  fs.mkdirSync(home, { recursive: true });
  const config = makeCliConfig({
    version: '0.1.0-test',
    dir: path.join(home, '.config', 'neetodeploy'),
    home,
    overrides: {},
    selfCommand: [],
  });
  const caFile = path.join(root, 'api-ca.pem');
  fs.writeFileSync(caFile, ks.ca);
  const token = await ks.token(ALICE);
  await saveCredentials(config, { apiUrl: ks.address.url, token, email: ALICE, caFile });
  const deps = (io: Io = fakeIo()): Deps => ({ io, api: createApiProvider(config), config });
  // The key and certificate stock ssh presents, as ssh_config's `Match exec` would renew them.
  const c0 = await runCli(['ssh-cert', 'demo.neetodeploy'], deps());
  if (c0 !== 0) throw new Error(`ssh-cert exited ${c0}`);
  const env = {
    ...BASE_ENV,
    HOME: home,
    NEETODEPLOY_TOKEN: token,
    NEETODEPLOY_API_URL: ks.address.url,
    NEETODEPLOY_CA_FILE: caFile,
  };
  return {
    keysDir: config.keysDir,
    path: {
      name: 'cli',
      command: (inv) => ({
        file: process.execPath,
        args: [
          ...sourceBinArgs('cli'),
          'exec',
          '-a',
          'demo',
          ...(inv.pty ? ['-t'] : []),
          '--',
          ...inv.argv,
        ],
        env,
      }),
      drop: () => relay.dropAll(),
      inProcess: (inv, options) => runCliInProcess(inv, options, deps),
    },
    async inProcess(argv) {
      const io = fakeIo();
      const c = await runCli(['exec', '-a', 'demo', '--', ...argv], deps(io));
      return { code: c, out: io.out(), err: io.err() };
    },
  };
}

async function startReferenceSshd(
  root: string,
): Promise<{ handle: SshdHandle; relay: Relay; keyFile: string }> {
  const keyFile = path.join(root, 'sshd-client-key');
  await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const handle = await startSshd({
    authorizedKeys: [fs.readFileSync(`${keyFile}.pub`, 'utf8').trim()],
    // The console's shell is sh -c; so is the reference's, for the same quoting and $$.
    extraConfig: ['ForceCommand /bin/sh -c "$SSH_ORIGINAL_COMMAND"'],
  });
  const relay = await startRelay(handle.port);
  return { handle, relay, keyFile };
}

function writeSshConfig(
  root: string,
  p: {
    relayPort: number;
    sshdPort: number;
    hostPublicKey: string;
    sshdHostKey: string;
    keysDir: string;
    sshdKey: string;
  },
): string {
  const known = path.join(root, 'known_hosts');
  fs.writeFileSync(known, `nd-bastion ${p.hostPublicKey}\nsshd-ref ${p.sshdHostKey}\n`);
  const file = path.join(root, 'ssh_config');
  const key = path.join(p.keysDir, 'demo.neetodeploy');
  fs.writeFileSync(
    file,
    [
      'Host nd-direct',
      `  HostName 127.0.0.1`,
      `  Port ${p.relayPort}`,
      '  User demo',
      'Host nd-jumphost',
      `  HostName 127.0.0.1`,
      `  Port ${p.relayPort}`,
      '  User neetodeploy-jump',
      'Host demo.neetodeploy',
      '  ProxyJump nd-jumphost',
      'Host sshd-ref',
      '  HostName 127.0.0.1',
      `  Port ${p.sshdPort}`,
      '  User root',
      `  IdentityFile ${p.sshdKey}`,
      '  HostKeyAlias sshd-ref',
      'Host *',
      `  IdentityFile ${key}`,
      `  CertificateFile ${key}-cert.pub`,
      '  HostKeyAlias nd-bastion',
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${known}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  LogLevel QUIET',
      '  IdentityAgent none',
      // Post-quantum key exchange (pure JS in the bastion) is tested in test/pqkex; here it
      // would only spend the shared CPU on 50 concurrent handshakes.
      '  KexAlgorithms curve25519-sha256',
      '',
    ].join('\n'),
  );
  return file;
}

export interface RunOutcome {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** ms from start to exit. */
  readonly ms: number;
}

/**
 * Runs one invocation to its end. `readDelayMs`: the reader sleeps that long before reading
 * (the pipes fill and the writer must wait, as with `2> >(sleep 2; wc -l)`).
 */
export function runPath(
  p: ExecPath,
  inv: Invocation,
  options: RunOptions = {},
): Promise<RunOutcome> {
  const { file, args, env } = p.command(inv);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const read = (): void => {
      child.stdout.on('data', (d: Buffer) => {
        out.push(d);
        options.onStdout?.(Buffer.concat(out));
      });
      child.stderr.on('data', (d: Buffer) => err.push(d));
    };
    if (options.readDelayMs) setTimeout(read, options.readDelayMs);
    else read();
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
        ms: Date.now() - started,
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * `neetodeploy exec` through `runCli` with pipes for stdin, stdout and stderr. `execArgs`: what
 * comes before the options and `--` (the app and target).
 */
export async function runCliInProcess(
  inv: Invocation,
  options: RunOptions,
  deps: (io: Io) => Deps,
  execArgs: readonly string[] = ['exec', '-a', 'demo'],
): Promise<RunOutcome> {
  const started = Date.now();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const read = (): void => {
    stdout.on('data', (d: Buffer) => {
      out.push(d);
      options.onStdout?.(Buffer.concat(out));
    });
    stderr.on('data', (d: Buffer) => err.push(d));
  };
  if (options.readDelayMs) setTimeout(read, options.readDelayMs);
  else read();
  stdin.end(options.stdin ?? '');
  const io: Io = { ...fakeIo(), stdin, stdout, stderr };
  const argv = [...execArgs, ...(inv.pty ? ['-t'] : []), '--', ...inv.argv];
  let code: number | null;
  try {
    code = await runCli(argv, deps(io));
  } catch (e) {
    err.push(Buffer.from(`${(e as Error).message}\n`));
    code = 1;
  }
  // What the command wrote must be readable once it returned (the reader may still sleep).
  if (options.readDelayMs) await new Promise((r) => setTimeout(r, options.readDelayMs));
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err), ms: Date.now() - started };
}
