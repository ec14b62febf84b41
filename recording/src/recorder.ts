/**
 * Recording one session: events become frames (./frames.ts), frames become hash-chained chunks
 * handed to a bounded {@link Spool}, and the end becomes a signed manifest. Every data method
 * copies, hashes and returns: nothing here waits for the store while the session runs.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ZERO_HASH, chunkMetaLine, sha256Hex } from './chain.js';
import { ChunkBuilder, HEADER_CODE, chunkBufferPool } from './frames.js';
import type { ChunkBufferPool } from './frames.js';
import type { RecordingKey } from './keys.js';
import { signManifest } from './manifest.js';
import { Spool } from './spool.js';
import { EVENT_CODES, RecordingError } from './types.js';
import type {
  DroppedSpan,
  RecordedExit,
  RecorderConfig,
  RecordingHeader,
  RecordingManifest,
  RecordingStore,
  SessionInfo,
  SessionRecorder,
} from './types.js';

type Stream = 'i' | 'o' | 'e';
type Counts = { i: number; o: number; e: number };

export interface RecorderDeps {
  readonly store: RecordingStore;
  readonly key: RecordingKey;
  readonly config: RecorderConfig;
  readonly now: () => Date;
  /** Told once when the recording fails for good (for logs and metrics). */
  readonly onFailure?: (err: RecordingError) => void;
}

export interface RecordingStart {
  readonly info: SessionInfo;
  readonly term: { readonly cols: number; readonly rows: number; readonly type?: string };
  /** When the session started (epoch ms); default: when the recorder is made. */
  readonly at?: number;
}

const zero = (): Counts => ({ i: 0, o: 0, e: 0 });
/** Milliseconds since the epoch, fractional and monotonic within a thread; comparable across threads. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** What a user is told when a required recording cannot keep up with the session. */
export const REQUIRED_RECORDING_FELL_BEHIND =
  'the session recording could not keep up and recording is required here: the session was ended; try again, and tell your administrator if it persists';
/** Resize events kept per session; a real terminal is resized a few times an hour. */
const MAX_RESIZES = 10_000;

/** A recorder running in this thread: also takes the gaps a caller that fell behind reports. */
export interface ThreadRecorder extends SessionRecorder {
  gap(spans: readonly DroppedSpan[]): void;
  /** Resolves once chunk 0 (the header) is stored; rejects with the store's error. */
  started(): Promise<void>;
}

class Recorder implements ThreadRecorder {
  readonly id: string;
  readonly failed: Promise<RecordingError>;
  private info: SessionInfo;
  private readonly spool: Spool;
  private readonly startedAt: Date;
  private failedResolve!: (err: RecordingError) => void;
  private failure: RecordingError | undefined;
  private finished = false;
  private seq = 0;
  private prev = ZERO_HASH;
  private readonly chunk: ChunkBuilder;
  private readonly chunkBytes: number;
  private readonly pool: ChunkBufferPool;
  /** Bytes of frames in the chunk being written (its metadata line not counted). */
  private bodyBytes = 0;
  private storedBytes = 0;
  private lastEventMs: number;
  private timer: NodeJS.Timeout | undefined;
  private dropping: 'limit' | 'spool' | undefined;
  private lastSize: string | undefined;
  private resizes = 0;
  private readonly bytes = zero();
  private readonly recorded = zero();
  private readonly dropped = zero();
  private readonly pendingDrops = new Map<Stream, { hash: Hash; bytes: number }>();

  constructor(
    start: RecordingStart,
    private readonly deps: RecorderDeps,
  ) {
    // The open chunk counts against the spool: a chunk as large as the spool would drop data
    // with an instant store, so a chunk is at most a quarter of the spool.
    this.chunkBytes = Math.min(
      deps.config.chunkBytes,
      Math.max(1, Math.floor(deps.config.spoolBytes / 4)),
    );
    this.id = start.info.sessionId;
    this.info = start.info;
    this.lastEventMs = start.at ?? wallMs();
    this.startedAt = start.at === undefined ? deps.now() : new Date(start.at);
    this.failed = new Promise((resolve) => (this.failedResolve = resolve));
    this.pool = chunkBufferPool(this.chunkBytes);
    this.chunk = new ChunkBuilder(this.pool);
    this.spool = new Spool(
      deps.store,
      this.id,
      deps.config.spoolBytes,
      (err) => this.fail(err),
      (chunk) => this.pool.release(chunk),
    );
    const header: RecordingHeader = {
      version: 3,
      term: start.term,
      timestamp: Math.floor(this.startedAt.getTime() / 1000),
      ...(start.info.command !== null ? { command: start.info.command } : {}),
      title: `${start.info.user} on ${start.info.app}`,
      neetodeploy: start.info,
    };
    this.put(() => this.chunk.text(HEADER_CODE, 0, JSON.stringify(header)));
    this.cut();
  }

  /** Resolves once chunk 0 (the header) is stored; rejects with the store's error. */
  async started(): Promise<void> {
    await this.spool.drained();
    if (this.failure) throw this.failure;
  }

  input(data: Buffer, at?: number): void {
    this.data('i', data, at);
  }
  output(data: Buffer, at?: number): void {
    this.data('o', data, at);
  }
  stderr(data: Buffer, at?: number): void {
    this.data('e', data, at);
  }

  /**
   * Data the caller could not hand over (it fell behind): kept as its hash and size between two
   * markers, as the recorder's own spool overflow is.
   */
  gap(spans: readonly DroppedSpan[]): void {
    if (this.failure || this.finished || spans.length === 0) return;
    this.event(
      EVENT_CODES.marker,
      'neetodeploy: the recorder fell behind; data is kept only as SHA-256 hashes ("d" events)',
    );
    for (const span of spans) {
      this.bytes[span.stream] += span.bytes;
      this.dropped[span.stream] += span.bytes;
      this.event(EVENT_CODES.dropped, JSON.stringify(span));
    }
    this.event(EVENT_CODES.marker, 'neetodeploy: the recorder caught up; recording resumed');
  }

  /**
   * A resize is kept only when the size changed, while data is being kept at all, and up to
   * {@link MAX_RESIZES} per session: a client can send window-change requests without end, and
   * none of them may grow the recording (or the spool it waits in) past its bounds.
   */
  resize(cols: number, rows: number, at?: number): void {
    if (this.failure || this.finished) return;
    const size = `${cols}x${rows}`;
    if (size === this.lastSize) return;
    this.lastSize = size;
    if (this.dropping !== undefined || this.resizes >= MAX_RESIZES) return;
    this.resizes++;
    this.event(EVENT_CODES.resize, size, at);
  }

  annotate(info: Partial<Pick<SessionInfo, 'pod' | 'execRequest'>>): void {
    this.info = { ...this.info, ...info };
  }

  async finish(exit: RecordedExit | undefined): Promise<RecordingManifest | undefined> {
    if (this.finished) return undefined;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.failure) return undefined;
    this.flushDrops();
    const status =
      exit?.signal !== undefined
        ? `SIG${exit.signal}`
        : exit?.code !== undefined
          ? String(exit.code)
          : '?';
    this.event(EVENT_CODES.exit, status);
    this.cut(true);
    await this.spool.drained();
    if (this.failure) return undefined;
    const manifest = signManifest(
      {
        version: 1,
        id: this.id,
        session: this.info,
        startedAt: this.startedAt.toISOString(),
        endedAt: this.deps.now().toISOString(),
        exitCode: exit?.code ?? null,
        exitSignal: exit?.signal ?? null,
        chunkCount: this.seq,
        finalHash: this.prev,
        storedBytes: this.storedBytes,
        bytes: { ...this.bytes },
        recordedBytes: { ...this.recorded },
        droppedBytes: { ...this.dropped },
        limitBytes: this.deps.config.maxSessionBytes,
      },
      this.deps.key,
    );
    try {
      await this.deps.store.putManifest(manifest);
    } catch (err) {
      this.fail(err as RecordingError);
      return undefined;
    }
    return manifest;
  }

  private fail(err: RecordingError): void {
    if (this.failure) return;
    this.failure = err;
    if (this.timer) clearTimeout(this.timer);
    this.deps.onFailure?.(err);
    this.failedResolve(err);
  }

  private data(stream: Stream, data: Buffer, at: number | undefined): void {
    this.bytes[stream] += data.length;
    if (this.failure || this.finished || data.length === 0) return;
    if (stream === 'i' && this.info.policy === 'output-only') return;
    this.resumeIfCaughtUp();
    if (this.dropping === undefined && !this.spool.hasRoom(this.bodyBytes + data.length)) {
      if (this.deps.config.mode === 'required') {
        this.fail(
          new RecordingError(
            'spool-full',
            `recording ${this.id}: the store is too slow (${this.spool.queuedBytes} bytes waiting)`,
            REQUIRED_RECORDING_FELL_BEHIND,
          ),
        );
        return;
      }
      this.startDropping('spool');
    }
    if (this.dropping !== undefined) return this.drop(stream, data);
    const room =
      this.deps.config.maxSessionBytes - (this.recorded.i + this.recorded.o + this.recorded.e);
    if (data.length <= room) return this.record(stream, data, at);
    if (room > 0) this.record(stream, data.subarray(0, room), at);
    this.startDropping('limit');
    this.drop(stream, data.subarray(room));
  }

  /** Keeps the bytes as they passed: decoding and JSON wait until someone reads the recording. */
  private record(stream: Stream, data: Buffer, at: number | undefined): void {
    this.recorded[stream] += data.length;
    const interval = this.interval(at);
    this.put(() => this.chunk.frame(stream, interval, data));
    this.afterEvent();
  }

  private startDropping(why: 'limit' | 'spool'): void {
    this.dropping = why;
    this.event(
      EVENT_CODES.marker,
      why === 'limit'
        ? `neetodeploy: recording limit of ${this.deps.config.maxSessionBytes} bytes reached; further data is kept only as SHA-256 hashes ("d" events)`
        : 'neetodeploy: the recording store is too slow; data is kept only as SHA-256 hashes ("d" events) until it catches up',
    );
  }

  private drop(stream: Stream, data: Buffer): void {
    this.dropped[stream] += data.length;
    let span = this.pendingDrops.get(stream);
    if (!span) {
      span = { hash: createHash('sha256'), bytes: 0 };
      this.pendingDrops.set(stream, span);
    }
    span.hash.update(data);
    span.bytes += data.length;
    this.armTimer();
  }

  private flushDrops(): void {
    for (const [stream, span] of this.pendingDrops) {
      const d: DroppedSpan = { stream, bytes: span.bytes, sha256: span.hash.digest('hex') };
      this.event(EVENT_CODES.dropped, JSON.stringify(d));
    }
    this.pendingDrops.clear();
  }

  private event(code: string, data: string, at?: number): void {
    const interval = this.interval(at);
    this.put(() => this.chunk.text(code, interval, data));
    this.afterEvent();
  }

  /** Seconds since the last event, to the microsecond; never backwards (callers time some events). */
  private interval(at: number | undefined): number {
    const now = Math.max(at ?? wallMs(), this.lastEventMs);
    const interval = Math.max(0, Math.round((now - this.lastEventMs) * 1000) / 1e6);
    this.lastEventMs = now;
    return interval;
  }

  /** Runs `write` on the open chunk (opening the next one, with its metadata line, if none is). */
  private put(write: () => void): void {
    if (this.chunk.length === 0) {
      this.chunk.raw(
        chunkMetaLine({ recording: this.id, seq: this.seq, prev: this.prev, format: 'frames' }),
      );
    }
    const before = this.chunk.length;
    write();
    this.bodyBytes += this.chunk.length - before;
  }

  private afterEvent(): void {
    if (this.bodyBytes >= this.chunkBytes) this.cut();
    else this.armTimer();
  }

  private armTimer(): void {
    if (this.timer || this.finished || this.failure) return;
    this.timer = setTimeout(() => this.onTimer(), this.deps.config.flushIntervalMs);
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.failure || this.finished) return;
    this.flushDrops();
    this.resumeIfCaughtUp();
    this.cut();
  }

  /**
   * Records again once the store has half the spool free: checked at every read and every tick,
   * so a short stall of the store costs a short gap.
   */
  private resumeIfCaughtUp(): void {
    if (this.dropping !== 'spool') return;
    if (!this.spool.hasRoom(this.spool.capacity / 2 + this.bodyBytes)) return;
    this.flushDrops();
    this.dropping = undefined;
    this.event(EVENT_CODES.marker, 'neetodeploy: the recording store caught up; recording resumed');
  }

  /** Turns the pending frames into the next chunk; waits (keeps them) while the spool is full. */
  private cut(force = false): void {
    if (this.bodyBytes === 0) return;
    if (!force && this.seq > 0 && !this.spool.hasRoom(this.bodyBytes)) {
      this.armTimer();
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const chunk = this.chunk.take();
    this.bodyBytes = 0;
    this.prev = sha256Hex(chunk);
    this.storedBytes += chunk.length;
    this.spool.push(this.seq, chunk);
    this.seq += 1;
    if (this.pendingDrops.size > 0) this.armTimer();
  }
}

/**
 * Starts recording a session: writes its header as chunk 0. In `required` mode resolves only
 * once that chunk is stored and rejects with the store's {@link RecordingError} when it cannot
 * be; in `best-effort` mode resolves at once (a failure shows in `failed`).
 */
export async function startRecording(
  start: RecordingStart,
  deps: RecorderDeps,
): Promise<ThreadRecorder> {
  const recorder = new Recorder(start, deps);
  if (deps.config.mode === 'required') await recorder.started();
  return recorder;
}
