/**
 * Starts ./bastion-child.ts and speaks to it over IPC: where it listens, its memory on demand
 * (after a full GC), and whether it is still alive. Its JSON log lines at error level or above
 * are kept (bounded) as evidence for the report.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOURCE_NODE_ARGS } from '../paths.js';

export type ParentMessage = { type: 'memory' } | { type: 'stop' };

export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  /** Connections still before authentication, and open sessions. */
  readonly unauthenticated: number;
  readonly sessions: number;
}

export type ChildMessage =
  | { type: 'ready'; port: number; userCaFile: string }
  | ({ type: 'memory' } & MemorySample)
  | { type: 'crash'; error: string };

export interface FuzzTarget {
  readonly port: number;
  readonly userCaFile: string;
  /** Set once the bastion process died: its exception, or how it exited. */
  crash(): string | undefined;
  memory(): Promise<MemorySample>;
  /** `memory()`, or undefined when the bastion does not answer within `ms` (a blocked event loop). */
  probe(ms: number): Promise<MemorySample | undefined>;
  /** Log lines at level error or fatal (at most 20 kept) and how many there were. */
  readonly errors: { count: number; samples: string[] };
  /** Stops it (SIGKILL after 10 s: a bastion whose event loop is stuck cannot stop itself). */
  stop(): Promise<void>;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bastion-child.ts');

export function startFuzzTarget(): Promise<FuzzTarget> {
  const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, '--expose-gc', CHILD], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let crash: string | undefined;
  let stopping = false;
  const errors = { count: 0, samples: [] as string[] };
  let stderr = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const level = /"level":(\d+)/.exec(line);
      if (level && Number(level[1]) >= 50) {
        errors.count++;
        if (errors.samples.length < 20) errors.samples.push(line.slice(0, 2000));
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000);
  });
  const memoryWaiters: ((m: MemorySample) => void)[] = [];
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      if (!stopping || code !== 0) {
        crash ??= `bastion process exited (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`;
      }
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'crash') crash = m.error;
      else if (m.type === 'memory') memoryWaiters.shift()?.(m);
      else if (m.type === 'ready') {
        const memory = (): Promise<MemorySample> =>
          new Promise<MemorySample>((res, rej) => {
            if (crash !== undefined || !child.connected) return rej(new Error('bastion is down'));
            memoryWaiters.push(res);
            child.send({ type: 'memory' } satisfies ParentMessage);
          });
        resolve({
          port: m.port,
          userCaFile: m.userCaFile,
          crash: () => crash,
          errors,
          memory,
          probe(ms) {
            return Promise.race([
              memory().catch(() => undefined),
              new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref()),
            ]);
          },
          async stop() {
            stopping = true;
            if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
          },
        });
      }
    });
    void exited.then(() => reject(new Error(crash ?? 'bastion process exited before ready')));
  });
}
