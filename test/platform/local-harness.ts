/**
 * Helpers of the local platform's backend tests: data dirs with apps, platforms made on them
 * and closed after the suite, and waits on logs and processes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import {
  createLocalPlatform,
  type LocalPlatform,
  type LocalPlatformConfigInput,
  type LogLine,
  type Platform,
} from '@neetodeploy/platform';
import { within } from '../support/platform-conformance.js';
import { waitForValue } from '../support/wait.js';

export const silent = pino({ level: 'silent' });

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nd-platform-local-'));
}

export function writeApp(dataDir: string, app: string, procfile: string): string {
  const dir = path.join(dataDir, 'apps', app);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Procfile'), procfile);
  return dir;
}

export async function logLines(platform: Platform, app: string, tail = 1000): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for await (const line of platform.streamLogs(app, { tail })) lines.push(line);
  return lines;
}

export async function waitForLog(platform: Platform, app: string, pattern: RegExp, ms = 5000) {
  return waitForValue(
    `a log line matching ${String(pattern)}`,
    async () => (await logLines(platform, app)).find((l) => pattern.test(l.line)),
    ms,
  );
}

/** Exited: no such process, or a zombie (orphans here may stay unreaped by PID 1). */
export function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}

export async function startedAtOf(platform: Platform, app: string, name: string): Promise<number> {
  const info = (await platform.listProcesses(app)).find((p) => p.name === name);
  assert.ok(info?.startedAt, `${name} has a start time`);
  return info.startedAt.getTime();
}

export function open(platform: LocalPlatform, app: string, extra: Record<string, unknown> = {}) {
  return platform.openConsole(app, { sessionId: 'local-test', user: 'dev@example.com', ...extra });
}

/** Runs `command` beside a running instance; resolves with its stdout. */
export async function runTarget(
  platform: Platform,
  app: string,
  target: { process?: string; pod?: string },
  command: string,
): Promise<string> {
  const console = await platform.openConsole(app, {
    command,
    target,
    sessionId: 'local-test',
    user: 'dev@example.com',
  });
  console.stdin.end();
  console.stderr.resume();
  const chunks: Buffer[] = [];
  console.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  await within(5000, console.done, command);
  return Buffer.concat(chunks).toString();
}

export interface LocalPlatforms {
  /** A platform that runs the apps of `dataDir` (test limits: short grace, fast polls). */
  readonly make: (
    dataDir: string,
    config?: Partial<LocalPlatformConfigInput>,
  ) => Promise<LocalPlatform>;
  /** Closes the platforms made on a data dir (they write run state while stopping), then removes it. */
  readonly dispose: (dataDir: string) => Promise<void>;
  /** Closes `platform` after the suite. */
  readonly track: (platform: LocalPlatform) => void;
}

/** Platforms made in the calling suite, all closed after it. Call inside a `describe`. */
export function useLocalPlatforms(): LocalPlatforms {
  const cleanups: (() => Promise<void>)[] = [];
  const made = new Map<string, LocalPlatform[]>();
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return {
    async make(dataDir, config = {}) {
      const platform = await createLocalPlatform(
        {
          dataDir,
          runProcesses: true,
          createDemoApp: false,
          ...config,
          limits: { stopGraceMs: 500, logPollMs: 50, restartBackoffMs: 100, ...config.limits },
        },
        { logger: silent },
      );
      cleanups.push(() => platform.close());
      made.set(dataDir, [...(made.get(dataDir) ?? []), platform]);
      return platform;
    },
    async dispose(dataDir) {
      for (const platform of made.get(dataDir) ?? []) await platform.close();
      made.delete(dataDir);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    track(platform) {
      cleanups.push(() => platform.close());
    },
  };
}
