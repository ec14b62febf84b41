/**
 * Process logs on disk: one NDJSON file per process instance under `<dataDir>/logs/<app>/`,
 * rotated past a size (one rotated file kept, so at most twice the limit per instance), read
 * back merged in time order and followed by polling, so a process that does not run the apps
 * (bastion-only, admin) can follow what another one writes.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { LogLine } from '../types.js';

/** `source` of lines the platform itself writes (restarts, crashes, config changes). */
export const PLATFORM_SOURCE = 'neetodeploy';
export const APP_SOURCE = 'app';
/** The instance name of app-wide platform events, as Heroku's `app[api]`. */
export const API_PROCESS = 'api';

const LOG_SUFFIX = '.log';
const ROTATED_SUFFIX = '.log.1';
/** Bytes a follower reads from one file per poll, so a burst cannot balloon memory. */
const FOLLOW_READ_CHUNK = 1024 * 1024;

interface StoredLine {
  t: string;
  s: string;
  p: string;
  l: string;
}

function encodeLine(line: LogLine): string {
  const stored: StoredLine = {
    t: line.time.toISOString(),
    s: line.source,
    p: line.process,
    l: line.line,
  };
  return `${JSON.stringify(stored)}\n`;
}

function decodeLine(text: string): LogLine | undefined {
  if (text === '') return undefined;
  try {
    const v = JSON.parse(text) as Partial<StoredLine>;
    if (typeof v.t !== 'string' || typeof v.l !== 'string' || typeof v.p !== 'string') {
      return undefined;
    }
    const time = new Date(v.t);
    if (Number.isNaN(time.getTime())) return undefined;
    return { time, source: typeof v.s === 'string' ? v.s : APP_SOURCE, process: v.p, line: v.l };
  } catch {
    return undefined;
  }
}

/** Process type of an instance name: `web.1` → `web`. */
export function processTypeOf(instance: string): string {
  const dot = instance.lastIndexOf('.');
  return dot > 0 ? instance.slice(0, dot) : instance;
}

function matchesProcess(line: LogLine, processFilter: string | undefined): boolean {
  if (processFilter === undefined) return true;
  return line.process === processFilter || processTypeOf(line.process) === processFilter;
}

const byTime = (a: LogLine, b: LogLine) => a.time.getTime() - b.time.getTime();

/**
 * Appends lines of one instance to its file. Synchronous writes on purpose: each call is one
 * small write() to the page cache, there is no queue to grow, and rotation cannot interleave.
 */
export class LogWriter {
  private fd: number | undefined;
  private size = 0;

  constructor(
    private readonly file: string,
    private readonly maxBytes: number,
  ) {}

  write(lines: readonly LogLine[]): void {
    if (this.fd === undefined) this.open();
    // One write() per batch, but a batch never crosses the size bound: rotate between lines.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (const line of lines) {
      const encoded = Buffer.from(encodeLine(line), 'utf8');
      if (this.size + batchBytes > 0 && this.size + batchBytes + encoded.length > this.maxBytes) {
        this.flush(batch);
        batch = [];
        batchBytes = 0;
        if (this.size > 0) this.rotate();
      }
      batch.push(encoded);
      batchBytes += encoded.length;
    }
    this.flush(batch);
  }

  private flush(batch: Buffer[]): void {
    if (batch.length === 0) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    fs.writeSync(this.fd!, data);
    this.size += data.length;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.close();
    fs.renameSync(this.file, this.file.slice(0, -LOG_SUFFIX.length) + ROTATED_SUFFIX);
    this.open();
  }
}

/** Appends to a file shared with other processes (rare app-wide events): open, write, close. */
export function appendShared(file: string, maxBytes: number, line: LogLine): void {
  const writer = new LogWriter(file, maxBytes);
  try {
    writer.write([line]);
  } finally {
    writer.close();
  }
}

export interface LogStoreOptions {
  readonly maxLogFileBytes: number;
  readonly pollMs: number;
}

/** Wakes followers in this process as soon as a line is written, instead of at the next poll. */
export type LogBus = EventEmitter<{ append: [app: string] }>;

interface Tracked {
  ino: number;
  /** Bytes of whole lines already read. */
  offset: number;
}

async function listInstances(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith(LOG_SUFFIX) && !n.startsWith('.'))
    .map((n) => n.slice(0, -LOG_SUFFIX.length))
    .sort();
}

/** The file opened for reading, or undefined when it does not exist (rotated away). */
async function openIfExists(file: string): Promise<fsp.FileHandle | undefined> {
  try {
    return await fsp.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function readWhole(
  file: string,
): Promise<{ text: string; ino: number; complete: number } | undefined> {
  const handle = await openIfExists(file);
  if (!handle) return undefined;
  try {
    const stat = await handle.stat();
    const buffer = Buffer.alloc(stat.size);
    const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
    const complete = bytesRead > 0 ? buffer.lastIndexOf(0x0a, bytesRead - 1) + 1 : 0;
    return { text: buffer.subarray(0, complete).toString('utf8'), ino: stat.ino, complete };
  } finally {
    await handle.close();
  }
}

async function readRange(
  file: string,
  ino: number,
  offset: number,
): Promise<{ text: string; bytes: number; size: number; ino: number } | undefined> {
  const handle = await openIfExists(file);
  if (!handle) return undefined;
  try {
    const stat = await handle.stat();
    if (ino !== -1 && stat.ino !== ino)
      return { text: '', bytes: 0, size: stat.size, ino: stat.ino };
    const length = Math.max(0, Math.min(stat.size - offset, FOLLOW_READ_CHUNK));
    if (length === 0) return { text: '', bytes: 0, size: stat.size, ino: stat.ino };
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    // Only whole lines: a multi-byte character is never split across polls.
    const lastNewline = buffer.lastIndexOf(0x0a, bytesRead - 1);
    const usable = lastNewline >= 0 ? lastNewline + 1 : 0;
    return {
      text: buffer.subarray(0, usable).toString('utf8'),
      bytes: usable,
      size: stat.size,
      ino: stat.ino,
    };
  } finally {
    await handle.close();
  }
}

function parseText(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const row of text.split('\n')) {
    const line = decodeLine(row);
    if (line) out.push(line);
  }
  return out;
}

export interface ReadOptions {
  readonly process?: string;
  readonly tail?: number;
  readonly since?: Date;
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Past lines of an app (last `tail`, at or after `since`) then, when following, new lines
 * until aborted or until the consumer stops iterating. Hand-written iterator rather than an
 * async generator so that `return()` (a `break` in `for await`) ends a follower that is
 * waiting for lines right away, with its timer and listeners removed.
 */
export function readLogs(
  dir: string,
  app: string,
  options: ReadOptions,
  store: LogStoreOptions,
  bus: LogBus,
): AsyncIterable<LogLine> {
  return {
    [Symbol.asyncIterator]() {
      return new LogIterator(dir, app, options, store, bus);
    },
  };
}

class LogIterator implements AsyncIterator<LogLine> {
  private queue: LogLine[] = [];
  private started = false;
  private finished = false;
  private readonly tracked = new Map<string, Tracked>();
  private wake: (() => void) | undefined;
  /** The last poll stopped at its read bound: poll again without waiting. */
  private behind = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.finish();
  private readonly onAppend = (app: string) => {
    if (app === this.app) this.wake?.();
  };

  constructor(
    private readonly dir: string,
    private readonly app: string,
    private readonly options: ReadOptions,
    private readonly store: LogStoreOptions,
    private readonly bus: LogBus,
  ) {}

  async next(): Promise<IteratorResult<LogLine>> {
    if (!this.started) {
      this.started = true;
      if (this.options.signal?.aborted) this.finish();
      else await this.readHistory();
    }
    for (;;) {
      const line = this.queue.shift();
      if (line) return { value: line, done: false };
      if (this.finished || !this.options.follow) {
        this.finish();
        return { value: undefined, done: true };
      }
      await this.waitForChange();
      if (this.finished) continue;
      await this.poll();
    }
  }

  return(): Promise<IteratorResult<LogLine>> {
    this.finish();
    this.queue = [];
    return Promise.resolve({ value: undefined, done: true });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.bus.off('append', this.onAppend);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wake?.();
  }

  private waitForChange(): Promise<void> {
    if (this.behind) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        resolve();
      };
      this.timer = setTimeout(() => this.wake?.(), this.store.pollMs);
    });
  }

  private async readHistory(): Promise<void> {
    if (this.options.follow) {
      this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.bus.on('append', this.onAppend);
    }
    const tail = Math.max(0, this.options.tail ?? 100);
    const since = this.options.since?.getTime();
    const lines: LogLine[] = [];
    for (const instance of await listInstances(this.dir)) {
      const current = await readWhole(path.join(this.dir, instance + LOG_SUFFIX));
      if (current) this.tracked.set(instance, { ino: current.ino, offset: current.complete });
      if (tail === 0 && since === undefined) continue;
      const rotated = await readWhole(path.join(this.dir, instance + ROTATED_SUFFIX));
      for (const part of [rotated, current]) {
        if (!part) continue;
        for (const line of parseText(part.text)) {
          if (!matchesProcess(line, this.options.process)) continue;
          if (since !== undefined && line.time.getTime() < since) continue;
          lines.push(line);
        }
      }
    }
    lines.sort(byTime);
    this.queue.push(...lines.slice(Math.max(0, lines.length - tail)));
  }

  private async poll(): Promise<void> {
    const fresh: LogLine[] = [];
    let more = false;
    for (const instance of await listInstances(this.dir)) {
      const file = path.join(this.dir, instance + LOG_SUFFIX);
      let state = this.tracked.get(instance);
      if (!state) {
        state = { ino: -1, offset: 0 };
        this.tracked.set(instance, state);
      }
      let chunk = await readRange(file, state.ino, state.offset);
      if (!chunk) continue;
      if (state.ino !== -1 && chunk.ino !== state.ino) {
        // Rotated since the last poll: finish the old file (now `.log.1`), then start the new.
        const rotated = path.join(this.dir, instance + ROTATED_SUFFIX);
        for (let offset = state.offset; ;) {
          const old = await readRange(rotated, state.ino, offset);
          if (!old || old.ino !== state.ino || old.bytes === 0) break;
          fresh.push(...parseText(old.text));
          offset += old.bytes;
        }
        state.ino = chunk.ino;
        state.offset = 0;
        chunk = await readRange(file, state.ino, 0);
        if (!chunk) continue;
      } else if (state.ino === -1) {
        state.ino = chunk.ino;
      } else if (chunk.size < state.offset) {
        state.offset = 0;
        chunk = await readRange(file, state.ino, 0);
        if (!chunk) continue;
      }
      state.offset += chunk.bytes;
      if (chunk.size > state.offset && chunk.bytes > 0) more = true;
      fresh.push(...parseText(chunk.text));
    }
    fresh.sort(byTime);
    for (const line of fresh) {
      if (matchesProcess(line, this.options.process)) this.queue.push(line);
    }
    this.behind = more;
    if (more && this.queue.length === 0 && !this.finished) await this.poll();
  }
}
