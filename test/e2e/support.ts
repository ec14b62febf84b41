/**
 * End-to-end helpers: the all-in-one and the CLI spawned from source exactly as a user runs
 * them (separate processes, real ports, real files), plus process-tree checks for clean exits.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, SOURCE_NODE_ARGS, sourceBinArgs } from '../support/paths.js';

export const ADMIN_EMAIL = 'newcomer@example.com';
export const ADMIN_PASSWORD = 'a long and private password';

export const ALL_IN_ONE_ARGS: readonly string[] = [
  ...SOURCE_NODE_ARGS,
  path.join(ROOT, 'all-in-one', 'src', 'main.ts'),
];

/** The environment children get: ours minus anything that would steer the CLI or server. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('NEETODEPLOY_') || key === 'LOG_LEVEL') delete env[key];
  }
  return { ...env, ...extra };
}

/** Resolves when `read()` matches `pattern`, rejects after `timeoutMs` with what was seen. */
export async function waitForOutput(
  read: () => string,
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = read().match(pattern);
    if (m) return m;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; got:\n${read().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Banner {
  readonly text: string;
  readonly apiUrl: string;
  readonly apiPort: number;
  readonly sshPort: number;
  readonly caFile: string;
  readonly commands: readonly string[];
}

export interface RunningAllInOne {
  readonly child: ChildProcess;
  readonly banner: Banner;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function parseBanner(text: string): Banner {
  const get = (re: RegExp, what: string): string => {
    const m = text.match(re);
    if (!m?.[1]) throw new Error(`the banner has no ${what}:\n${text}`);
    return m[1];
  };
  const apiUrl = get(/API \(HTTPS\):\s+(\S+)/, 'API line');
  const sshPort = Number(get(/Bastion \(SSH\):\s+127\.0\.0\.1:(\d+)/, 'bastion line'));
  const caFile = get(/CA file:\s+(\S+)/, 'CA file line');
  const nextIndex = text.indexOf('Next, in another terminal');
  const commands = text
    .slice(nextIndex)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('npx neetodeploy '));
  return { text, apiUrl, apiPort: Number(new URL(apiUrl).port), sshPort, caFile, commands };
}

/** Spawns the all-in-one and waits for its banner (or its exit). */
export async function startAllInOne(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunningAllInOne> {
  const child = spawn(process.execPath, [...ALL_IN_ONE_ARGS, ...args], {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const handle: RunningAllInOne = {
    child,
    banner: undefined as unknown as Banner,
    stdout: () => out,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  try {
    await waitForOutput(
      () => (exitCode !== undefined ? `${out}\n<exited ${String(exitCode)}>` : out),
      /Press Ctrl-C to stop\.|<exited/,
      options.timeoutMs ?? 60_000,
      'the all-in-one banner',
    );
  } catch (e) {
    await handle.stop('SIGKILL');
    throw e;
  }
  if (exitCode !== undefined) {
    throw new Error(`the all-in-one exited with ${String(exitCode)}: ${err}`);
  }
  return { ...handle, banner: parseBanner(out) };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `neetodeploy ARGS` from source to completion. */
export function runCli(
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceBinArgs('cli'), ...args], {
      cwd: ROOT,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Every descendant pid of `pid` (Linux /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the ppid follows the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    for (const c of children.get(next) ?? []) {
      found.push(c);
      queue.push(c);
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0) until its parent reaps it.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
