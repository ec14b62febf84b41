/**
 * Helpers around the real OpenSSH binaries: run `ssh-keygen`/`ssh`, and start a private `sshd`
 * on 127.0.0.1 with its own config dir (reusable by other suites and benchmarks).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment for OpenSSH tools: UTC so `ssh-keygen -L` prints times we can compare. */
export const OPENSSH_ENV: NodeJS.ProcessEnv = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

/** Runs a command to completion (no shell), with optional stdin and a timeout. */
export function run(
  cmd: string,
  args: readonly string[],
  options: {
    input?: string | Buffer;
    timeoutMs?: number;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? OPENSSH_ENV,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** `ssh-keygen ARGS`; rejects with its stderr when it exits non-zero unless `allowFail`. */
export async function sshKeygen(
  args: readonly string[],
  options: { allowFail?: boolean; input?: string } = {},
): Promise<RunResult> {
  const r = await run(
    'ssh-keygen',
    args,
    options.input === undefined ? {} : { input: options.input },
  );
  if (r.code !== 0 && !options.allowFail) {
    throw new Error(`ssh-keygen ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  }
  return r;
}

/** A fresh temp dir and its remover. */
export function makeTempDir(prefix = 'neetodeploy-test-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for daemons that cannot take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface SshdOptions {
  /** CA public key lines for `TrustedUserCAKeys`. */
  readonly trustedUserCAKeys?: readonly string[];
  /**
   * Principals accepted for every user (`AuthorizedPrincipalsFile`). Without it, sshd accepts a
   * certificate only if it lists the login user name.
   */
  readonly authorizedPrincipals?: readonly string[];
  /** Lines for `AuthorizedKeysFile` (plain keys); default none. */
  readonly authorizedKeys?: readonly string[];
  /** KRL file for `RevokedKeys`. */
  readonly revokedKeysFile?: string;
  /** Extra sshd_config lines (placed before any Match block). */
  readonly extraConfig?: readonly string[];
  /** How long to wait for "Server listening" (default 10 s). */
  readonly startTimeoutMs?: number;
}

export interface SshdHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The config dir (host key, config, principals); removed by stop(). */
  readonly dir: string;
  /** `ssh-ed25519 AAAA...` line of the host key, for a known_hosts file. */
  readonly hostKeyLine: string;
  /** Everything sshd wrote to stderr so far (it runs with -e). */
  logs(): string;
  /** Kills sshd (and its session children through the process group) and removes `dir`. */
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/**
 * Starts a private sshd (must run as root, as CI and the build machines do) on 127.0.0.1 with
 * `UsePAM no`, `StrictModes no` and public-key auth only. Always call `stop()` (in `after`).
 */
export async function startSshd(options: SshdOptions = {}): Promise<SshdHandle> {
  // sshd's privilege separation needs this directory; Debian creates it only from its unit.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const { dir, remove } = makeTempDir('neetodeploy-sshd-');
  fs.chmodSync(dir, 0o755);
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', 'test-sshd', '-f', hostKey]);
  const hostKeyLine = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim();
  const lines = [
    `ListenAddress 127.0.0.1`,
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'LogLevel VERBOSE',
    'MaxStartups 100',
    'MaxSessions 100',
    'AcceptEnv NONE',
    'PrintMotd no',
  ];
  if (options.trustedUserCAKeys) {
    const f = path.join(dir, 'trusted_user_ca_keys');
    fs.writeFileSync(f, options.trustedUserCAKeys.join('\n') + '\n');
    lines.push(`TrustedUserCAKeys ${f}`);
  }
  if (options.authorizedPrincipals) {
    const f = path.join(dir, 'authorized_principals');
    fs.writeFileSync(f, options.authorizedPrincipals.join('\n') + '\n');
    lines.push(`AuthorizedPrincipalsFile ${f}`);
  }
  if (options.authorizedKeys) {
    const f = path.join(dir, 'authorized_keys');
    fs.writeFileSync(f, options.authorizedKeys.join('\n') + '\n');
    lines.push(`AuthorizedKeysFile ${f}`);
  } else {
    lines.push('AuthorizedKeysFile none');
  }
  if (options.revokedKeysFile) lines.push(`RevokedKeys ${options.revokedKeysFile}`);
  lines.push(...(options.extraConfig ?? []));

  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(config, [`Port ${port}`, ...lines].join('\n') + '\n');
    try {
      return await launch(config, port, dir, hostKeyLine, remove, options.startTimeoutMs ?? 10000);
    } catch (err) {
      lastError = err;
    }
  }
  remove();
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

function launch(
  config: string,
  port: number,
  dir: string,
  hostKeyLine: string,
  remove: () => void,
  timeoutMs: number,
): Promise<SshdHandle> {
  return new Promise((resolve, reject) => {
    // detached: its own process group, so stop() also reaches per-connection children.
    const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let log = '';
    let exited = false;
    const exitPromise = new Promise<void>((res) => child.once('exit', () => res()));
    child.once('exit', () => (exited = true));
    const stop = async (): Promise<void> => {
      if (!exited && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          child.kill('SIGTERM');
        }
        const killer = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }, 2000);
        await exitPromise;
        clearTimeout(killer);
      }
      remove();
    };
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      reject(new Error(`sshd did not start in ${timeoutMs} ms: ${log}`));
    }, timeoutMs);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        clearTimeout(timer);
        resolve({ host: '127.0.0.1', port, dir, hostKeyLine, logs: () => log, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Port taken or config refused: reject without removing the dir (the caller retries).
      reject(new Error(`sshd exited with ${code}: ${log}`));
    });
  });
}

/** Options for the stock `ssh` client that keep it away from the user's own files and agent. */
export function sshClientArgs(handle: { port: number }, knownHostsFile: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-p',
    String(handle.port),
    '-o',
    `UserKnownHostsFile=${knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'ConnectTimeout=10',
  ];
}

/** Writes a known_hosts file for an sshd started by {@link startSshd}. */
export function writeKnownHosts(file: string, handle: SshdHandle): void {
  fs.writeFileSync(file, `[127.0.0.1]:${handle.port} ${handle.hostKeyLine}\n`);
}
