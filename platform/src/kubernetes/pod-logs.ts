/**
 * Logs of every pod of an app (or of one process type), merged: the recent past in time order,
 * then, when following, new lines as they come from pods that exist, appear (watch) or restart.
 * A stream that ends while its pod still runs is re-opened from the last timestamp seen
 * (`timestamps=true` + `sinceTime`), and lines already delivered are dropped, so nothing is
 * shown twice.
 */
import type { IncomingMessage } from 'node:http';
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { LogLine, LogOptions } from '../types.js';
import { bodyLines } from './body-lines.js';
import { isApiError, type KubeClient } from './client.js';

export const PLATFORM_SOURCE = 'neetodeploy';
const MAX_LINE = 64 * 1024;
const MAX_WATCH_EVENT = 4 * 1024 * 1024;
/**
 * Lines queued for a reader before the pod log streams stop being read. Past it a tailer waits
 * for room instead of pulling more from its HTTP response, so TCP flow control pushes back to
 * the API server and a stalled reader costs at most this many lines (plus one socket buffer
 * per pod), not the whole log.
 */
export const QUEUE_HIGH_WATER = 1000;

export interface LogSource {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly labelSelector: string;
  readonly maxStreams: number;
  readonly reconnectDelayMs: number;
  readonly logger: Logger;
  /** Instance name shown for a pod, e.g. `web.x7k2p`. */
  processName(pod: V1Pod): string;
  /** Stops the stream when the platform closes. */
  readonly closing: AbortSignal;
}

/** `2026-01-02T03:04:05.5Z` → `2026-01-02T03:04:05.500000000Z`: comparable as a string. */
export function timeKey(stamp: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(stamp);
  if (!m) return undefined;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}

function keyToDate(key: string): Date {
  return new Date(`${key.slice(0, 23)}Z`);
}

/** `sinceTime` has one-second precision on real API servers: round down, dedupe the rest. */
function sinceTimeOf(key: string): string {
  return `${key.slice(0, 19)}Z`;
}

interface Parsed {
  key: string;
  text: string;
}

function parseLine(raw: string): Parsed | undefined {
  const space = raw.indexOf(' ');
  if (space < 0) return undefined;
  const key = timeKey(raw.slice(0, space));
  return key ? { key, text: raw.slice(space + 1) } : undefined;
}

/** Dedupe state of one container: the newest timestamp seen and the lines seen at it. */
class Seen {
  last: string | undefined;
  private atLast = new Set<string>();

  constructor(private readonly since: string | undefined) {}

  /** Where a (re)opened stream starts: after the last line seen, else at `since`. */
  resumeFrom(): string | undefined {
    return this.last ?? this.since;
  }

  /** True for a line not delivered before (and records it). */
  accept(line: Parsed): boolean {
    if (this.since !== undefined && line.key < this.since) return false;
    if (this.last !== undefined) {
      if (line.key < this.last) return false;
      if (line.key === this.last) {
        if (this.atLast.has(line.text)) return false;
        this.atLast.add(line.text);
        return true;
      }
    }
    this.last = line.key;
    this.atLast = new Set([line.text]);
    return true;
  }
}

function containerOf(pod: V1Pod): string | undefined {
  return pod.spec?.containers[0]?.name;
}

function isFinished(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return (
    phase === 'Succeeded' || phase === 'Failed' || pod.metadata?.deletionTimestamp !== undefined
  );
}

function isRunning(pod: V1Pod): boolean {
  const name = containerOf(pod);
  const status = pod.status?.containerStatuses?.find((c) => c.name === name);
  return !isFinished(pod) && status?.state?.running !== undefined;
}

/** Reads a log response line by line. */
/** Log lines are cut at MAX_LINE; a watch event that long is not a pod, and fails the watch. */
const logLines = (res: IncomingMessage): AsyncGenerator<string> =>
  bodyLines(res, { maxLineChars: MAX_LINE, overlong: 'cut' });
const watchEvents = (res: IncomingMessage): AsyncGenerator<string> =>
  bodyLines(res, { maxLineChars: MAX_WATCH_EVENT, overlong: 'fail' });

export function streamPodLogs(source: LogSource, options: LogOptions): AsyncIterable<LogLine> {
  return {
    [Symbol.asyncIterator]: () => new LogMerger(source, options),
  };
}

class LogMerger implements AsyncIterator<LogLine> {
  private readonly queue: LogLine[] = [];
  private waiter: ((r: IteratorResult<LogLine>) => void) | undefined;
  private failWaiter: ((err: unknown) => void) | undefined;
  private failure: unknown;
  private ended = false;
  private started = false;
  private readonly stop = new AbortController();
  private readonly tailers = new Map<string, Tailer>();
  private readonly since: string | undefined;
  private overLimit = new Set<string>();
  /** Tailers waiting for the queue to drain below the high-water mark. */
  private roomWaiters: (() => void)[] = [];
  private readonly onAbort = () => this.finish();

  constructor(
    private readonly source: LogSource,
    private readonly options: LogOptions,
  ) {
    this.since = options.since ? timeKey(options.since.toISOString()) : undefined;
  }

  next(): Promise<IteratorResult<LogLine>> {
    if (!this.started) {
      this.started = true;
      if (this.options.signal?.aborted || this.source.closing.aborted) this.finish();
      else {
        this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
        this.source.closing.addEventListener('abort', this.onAbort, { once: true });
        this.run().then(
          () => {
            if (!this.options.follow) this.finish();
          },
          (err: unknown) => this.fail(err),
        );
      }
    }
    const line = this.queue.shift();
    if (this.queue.length < QUEUE_HIGH_WATER) this.releaseRoom();
    if (line) return Promise.resolve({ value: line, done: false });
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      return Promise.reject(err instanceof Error ? err : new Error('log stream failed'));
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<LogLine>> {
    this.queue.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  /**
   * Hands a line to the reader, or queues it. Resolves when there is room for more (at once
   * below the high-water mark): a tailer awaits it before it reads on.
   */
  private emit(line: LogLine): Promise<void> {
    if (this.ended) return Promise.resolve();
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.failWaiter = undefined;
      waiter({ value: line, done: false });
    } else this.queue.push(line);
    if (this.queue.length < QUEUE_HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private releaseRoom(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.stop.abort();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.source.closing.removeEventListener('abort', this.onAbort);
    for (const t of this.tailers.values()) t.stop();
    this.tailers.clear();
    this.releaseRoom();
    const waiter = this.waiter;
    this.waiter = undefined;
    this.failWaiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    const reject = this.failWaiter;
    if (reject) {
      this.waiter = undefined;
      this.failWaiter = undefined;
      reject(err);
    } else this.failure = err;
    this.finish();
  }

  private notice(text: string): void {
    // A notice is one line, never awaited: it must not stall the watch.
    void this.emit({ time: new Date(), source: PLATFORM_SOURCE, process: 'api', line: text });
  }

  private podsPath(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.source.namespace)}/pods`;
  }

  private async run(): Promise<void> {
    const { client, labelSelector, maxStreams } = this.source;
    const list = await client.request<V1PodList>('GET', this.podsPath(), {
      query: { labelSelector },
      signal: this.stop.signal,
    });
    const pods = [...list.items].sort((a, b) =>
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
    );
    const chosen = pods.slice(0, maxStreams);
    if (pods.length > maxStreams) {
      for (const p of pods.slice(maxStreams)) this.overLimit.add(p.metadata?.name ?? '');
      this.notice(
        `showing logs of ${maxStreams} of ${pods.length} pods (the limit); choose a process type to see the others`,
      );
    }
    const tail = this.options.tail ?? 100;
    for (const pod of chosen) this.tailers.set(pod.metadata?.name ?? '', this.tailer(pod));

    if (tail > 0) {
      const backlog: { line: LogLine; key: string }[] = [];
      await Promise.all(
        [...this.tailers.values()].map(async (t) => {
          for (const p of await t.backlog(tail)) backlog.push(p);
        }),
      );
      backlog.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      // The backlog is already bounded (tail lines); the reader's pace gates what follows.
      for (const { line } of backlog.slice(-tail)) void this.emit(line);
    }
    if (!this.options.follow || this.ended) return;
    for (const t of this.tailers.values()) t.follow(tail === 0);
    void this.watch(list.metadata?.resourceVersion ?? '');
  }

  private tailer(pod: V1Pod): Tailer {
    return new Tailer(pod, this.source, new Seen(this.since), this.stop.signal, (line) =>
      this.emit(line),
    );
  }

  /** Follows pods that appear, change (restart) or go away. */
  private async watch(startVersion: string): Promise<void> {
    let version = startVersion;
    while (!this.ended) {
      try {
        const res = await this.source.client.stream(this.podsPath(), {
          query: {
            labelSelector: this.source.labelSelector,
            watch: true,
            allowWatchBookmarks: true,
            ...(version ? { resourceVersion: version } : {}),
          },
          signal: this.stop.signal,
        });
        for await (const raw of watchEvents(res)) {
          if (this.ended) return;
          const event = JSON.parse(raw) as { type: string; object: V1Pod };
          if (event.type === 'ERROR') {
            // 410 Gone: the version is too old; start over from now.
            version = '';
            break;
          }
          version = event.object.metadata?.resourceVersion ?? version;
          if (event.type === 'BOOKMARK') continue;
          this.onPodEvent(event.type, event.object);
        }
      } catch (err) {
        if (this.ended) return;
        if (isApiError(err, 410)) version = '';
        else this.source.logger.debug({ err }, 'pod watch failed; retrying');
      }
      if (!this.ended) await sleep(this.source.reconnectDelayMs, this.stop.signal);
    }
  }

  private onPodEvent(type: string, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    const existing = this.tailers.get(name);
    if (type === 'DELETED') {
      existing?.stop();
      this.tailers.delete(name);
      return;
    }
    if (existing) {
      if (existing.uid !== pod.metadata?.uid) {
        // Same name, new pod (StatefulSet-style): start over for it.
        existing.stop();
        this.tailers.delete(name);
      } else {
        existing.update(pod);
        return;
      }
    }
    if (this.overLimit.has(name)) return;
    if (this.tailers.size >= this.source.maxStreams) {
      this.overLimit.add(name);
      this.notice(
        `not following pod ${name}: already following ${this.source.maxStreams} pods (the limit)`,
      );
      return;
    }
    const t = this.tailer(pod);
    this.tailers.set(name, t);
    t.follow(false);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One container's log: the backlog, then a follow stream re-opened as long as the pod runs. */
class Tailer {
  readonly uid: string | undefined;
  private readonly name: string;
  private readonly container: string | undefined;
  private readonly process: string;
  private pod: V1Pod;
  private readonly stopper = new AbortController();
  private wake: (() => void) | undefined;
  private following = false;

  constructor(
    pod: V1Pod,
    private readonly source: LogSource,
    private readonly seen: Seen,
    parent: AbortSignal,
    /** Resolves when the reader has room for more lines. */
    private readonly emit: (line: LogLine) => Promise<void>,
  ) {
    this.pod = pod;
    this.uid = pod.metadata?.uid;
    this.name = pod.metadata?.name ?? '';
    this.container = containerOf(pod);
    this.process = source.processName(pod);
    parent.addEventListener('abort', () => this.stop(), { once: true });
  }

  private get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.source.namespace)}/pods/${encodeURIComponent(this.name)}/log`;
  }

  stop(): void {
    this.stopper.abort();
    this.wake?.();
  }

  update(pod: V1Pod): void {
    this.pod = pod;
    this.wake?.();
  }

  private toLine(p: Parsed): LogLine {
    return { time: keyToDate(p.key), source: 'app', process: this.process, line: p.text };
  }

  /** The last `tail` lines (after `since`), recorded as seen. */
  async backlog(tail: number): Promise<{ line: LogLine; key: string }[]> {
    if (!this.container) return [];
    const out: { line: LogLine; key: string }[] = [];
    try {
      const res = await this.source.client.stream(this.path, {
        query: {
          container: this.container,
          timestamps: true,
          tailLines: tail,
          ...(this.seenSince() ? { sinceTime: this.seenSince() } : {}),
        },
        signal: this.stopper.signal,
      });
      for await (const raw of logLines(res)) {
        const p = parseLine(raw);
        if (p && this.seen.accept(p)) out.push({ line: this.toLine(p), key: p.key });
      }
    } catch (err) {
      // A container that has not started yet has no log (400); a pod just gone has none (404).
      if (!isApiError(err, 400) && !isApiError(err, 404) && !this.stopper.signal.aborted) {
        this.source.logger.warn({ err, pod: this.name }, 'log backlog failed');
      }
    }
    return out;
  }

  private seenSince(): string | undefined {
    const key = this.seen.resumeFrom();
    return key ? sinceTimeOf(key) : undefined;
  }

  /** Follows until the pod is gone or finished, or the merger stops. */
  follow(newOnly: boolean): void {
    if (this.following || !this.container) return;
    this.following = true;
    void this.loop(newOnly);
  }

  private async loop(newOnly: boolean): Promise<void> {
    let first = true;
    const signal = this.stopper.signal;
    while (!signal.aborted) {
      if (!isRunning(this.pod)) {
        if (isFinished(this.pod) && !first) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.source.reconnectDelayMs * 4).unref();
        });
        this.wake = undefined;
        if (signal.aborted) return;
        if (!isRunning(this.pod)) {
          if (isFinished(this.pod)) return;
          continue;
        }
      }
      const since = this.seenSince();
      try {
        const res = await this.source.client.stream(this.path, {
          query: {
            container: this.container,
            follow: true,
            timestamps: true,
            ...(first && newOnly ? { tailLines: 0 } : since ? { sinceTime: since } : {}),
          },
          signal,
        });
        first = false;
        for await (const raw of logLines(res)) {
          const p = parseLine(raw);
          // Not reading on while the reader is behind: the response (and the API server
          // behind it) waits, instead of this process buffering the log.
          if (p && this.seen.accept(p)) await this.emit(this.toLine(p));
          if (signal.aborted) break;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isApiError(err, 404)) return;
        if (!isApiError(err, 400))
          this.source.logger.debug({ err, pod: this.name }, 'log stream failed');
      }
      first = false;
      if (signal.aborted) return;
      await sleep(this.source.reconnectDelayMs, signal);
      // The stream ended: the container restarted, stopped, or the connection dropped.
      try {
        this.pod = await this.source.client.request<V1Pod>(
          'GET',
          `/api/v1/namespaces/${encodeURIComponent(this.source.namespace)}/pods/${encodeURIComponent(this.name)}`,
          { signal },
        );
      } catch (err) {
        if (isApiError(err, 404) || signal.aborted) return;
      }
      if (this.pod.metadata?.uid !== this.uid || isFinished(this.pod)) return;
    }
  }
}
