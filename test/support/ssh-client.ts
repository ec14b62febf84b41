/**
 * Helpers to drive the real OpenSSH client against a bastion: keys, CAs and certificates made
 * with `ssh-keygen`, ssh_config files (ProxyJump needs identities in the config: `-i`/`-o` do
 * not reach the jump hop), running `ssh` with a timeout, and pty sessions driven through tmux.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs a command, feeding `input` to stdin; kills it after `timeoutMs`. */
export function run(
  file: string,
  args: readonly string[],
  options: {
    input?: Buffer | string;
    timeoutMs?: number;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: 'pipe',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

function exec(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export async function tempDir(
  prefix = 'nd-bastion-',
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface KeyPair {
  /** Private key file; the public key is `${file}.pub`. */
  readonly file: string;
  readonly publicKey: string;
}

export async function makeKey(
  dir: string,
  name: string,
  type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519',
): Promise<KeyPair> {
  const file = path.join(dir, name);
  await exec('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  return { file, publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

export interface CertSpec {
  readonly keyId: string;
  readonly principals: readonly string[];
  /** ssh-keygen `-V` syntax, e.g. `-1m:+5m` (default) or `-20m:-10m` (expired). */
  readonly validity?: string;
  readonly serial?: number;
  /** Extra `-O` options; default `clear` + `permit-pty`. */
  readonly options?: readonly string[];
  readonly host?: boolean;
  /** Where to write it; default `${key}-cert.pub`, where OpenSSH looks for it. */
  readonly out?: string;
}

/** Signs `key.pub` with `ca` through ssh-keygen; returns the certificate file. */
export async function signCert(ca: KeyPair, key: KeyPair, spec: CertSpec): Promise<string> {
  const args = [
    '-q',
    '-s',
    ca.file,
    '-I',
    spec.keyId,
    '-n',
    spec.principals.join(','),
    '-V',
    spec.validity ?? '-1m:+5m',
  ];
  if (spec.serial !== undefined) args.push('-z', String(spec.serial));
  if (spec.host) args.push('-h');
  else for (const o of spec.options ?? ['clear', 'permit-pty']) args.push('-O', o);
  args.push(`${key.file}.pub`);
  await exec('ssh-keygen', args);
  const made = `${key.file}-cert.pub`;
  if (spec.out && spec.out !== made) {
    await writeFile(spec.out, await readFile(made));
    await rm(made);
    return spec.out;
  }
  return made;
}

/** A binary KRL revoking serials and key ids of certificates signed by `ca`. */
export async function makeKrl(
  dir: string,
  ca: KeyPair,
  revoke: { serials?: number[]; keyIds?: string[] },
): Promise<string> {
  const spec = path.join(dir, 'krl.spec');
  const lines = [
    ...(revoke.serials ?? []).map((s) => `serial: ${s}`),
    ...(revoke.keyIds ?? []).map((k) => `id: ${k}`),
  ];
  await writeFile(spec, `${lines.join('\n')}\n`);
  const krl = path.join(dir, 'revoked.krl');
  await exec('ssh-keygen', ['-q', '-k', '-f', krl, '-s', `${ca.file}.pub`, spec]);
  return krl;
}

export interface SshConfigSpec {
  readonly port: number;
  /** The key whose `-cert.pub` is presented (IdentitiesOnly). */
  readonly identity: string;
  readonly certificate?: string;
  readonly knownHosts: string;
  /** Name the bastion's host certificate lists (HostKeyAlias for the bastion hop). */
  readonly bastionName: string;
  /** User for the direct/jump hop to the bastion. */
  readonly user?: string;
  readonly extra?: readonly string[];
}

/**
 * Writes an ssh_config: `Host bastion` (direct) and `Host *.neetodeploy` (ProxyJump bastion),
 * both with StrictHostKeyChecking yes and only the given known_hosts.
 */
export async function writeSshConfig(file: string, spec: SshConfigSpec): Promise<string> {
  const common = [
    `  IdentityFile ${spec.identity}`,
    ...(spec.certificate ? [`  CertificateFile ${spec.certificate}`] : []),
    '  IdentitiesOnly yes',
    '  IdentityAgent none',
    `  UserKnownHostsFile ${spec.knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  UpdateHostKeys no',
    '  PreferredAuthentications publickey,keyboard-interactive',
    '  NumberOfPasswordPrompts 1',
    '  ConnectTimeout 10',
    '  ServerAliveInterval 0',
    ...(spec.extra ?? []).map((l) => `  ${l}`),
  ];
  const text = [
    'Host bastion',
    '  HostName 127.0.0.1',
    `  Port ${spec.port}`,
    `  HostKeyAlias ${spec.bastionName}`,
    `  User ${spec.user ?? 'demo'}`,
    ...common,
    '',
    'Host *.neetodeploy',
    '  ProxyJump bastion',
    // OpenSSH 9.2 does not match wildcard principals (`*.neetodeploy`) in host certificates:
    // the virtual hosts are checked under the bastion's own name instead.
    `  HostKeyAlias ${spec.bastionName}`,
    ...common,
    '',
  ].join('\n');
  await writeFile(file, text);
  return file;
}

/** Runs `ssh -F config ...args` (never reading ~/.ssh). */
export function ssh(
  config: string,
  args: readonly string[],
  options: { input?: Buffer | string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run('ssh', ['-F', config, ...args], options);
}

/** A pty session in a private tmux server: type into it and read the screen. */
export class TmuxSession {
  private constructor(
    private readonly socket: string,
    readonly name: string,
  ) {}

  static async start(
    command: readonly string[],
    size = { cols: 100, rows: 30 },
  ): Promise<TmuxSession> {
    const socket = `nd-bastion-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const name = 's';
    const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    await exec('tmux', [
      '-L',
      socket,
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(size.cols),
      '-y',
      String(size.rows),
      `${quoted}; sleep 30`,
    ]);
    await exec('tmux', ['-L', socket, 'set-option', '-g', 'remain-on-exit', 'on']);
    return new TmuxSession(socket, name);
  }

  async send(...keys: string[]): Promise<void> {
    await exec('tmux', ['-L', this.socket, 'send-keys', '-t', this.name, ...keys]);
  }

  async type(text: string): Promise<void> {
    await exec('tmux', ['-L', this.socket, 'send-keys', '-t', this.name, '-l', text]);
  }

  async screen(): Promise<string> {
    return exec('tmux', ['-L', this.socket, 'capture-pane', '-p', '-t', this.name, '-S', '-200']);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await exec('tmux', [
      '-L',
      this.socket,
      'resize-window',
      '-t',
      this.name,
      '-x',
      String(cols),
      '-y',
      String(rows),
    ]);
  }

  /** Polls the screen until `pattern` shows up. */
  async waitFor(pattern: RegExp, timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.screen();
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${pattern} on screen:\n${last}`);
  }

  async kill(): Promise<void> {
    await exec('tmux', ['-L', this.socket, 'kill-server']).catch(() => undefined);
  }
}
