/**
 * The bastion's side of the recording worker (./thread.ts). A session's recorder here only
 * copies the bytes that pass into a batch and posts the batch (transferred, not copied) every
 * {@link BATCH_BYTES} or {@link BATCH_MS}; encoding, hashing and storing happen on the worker's
 * thread, so a recorded session costs its own thread little more than an unrecorded one. Full
 * batches come back from the worker once used and are written into again: a fresh batch is
 * fresh pages, and their faults were most of what recording cost the session's thread.
 *
 * Bounded: bytes posted but not yet taken by the worker are capped (`spoolBytes`, at most
 * {@link MAX_IN_FLIGHT}). Past the cap a `required` recording fails (the bastion ends the
 * session, as when the spool overflows) and a `best-effort` one keeps only each stream's size
 * and SHA-256 until the worker catches up, then reports the gap, which the recording shows.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { REQUIRED_RECORDING_FELL_BEHIND, wallMs, type RecordingStart } from '../recorder.js';
import { RecordingError } from '../types.js';
import type {
  DroppedSpan,
  RecordedExit,
  RecorderConfig,
  RecordingManifest,
  SessionInfo,
  SessionRecorder,
  StoreConfig,
} from '../types.js';
import { FULL_BATCH_BYTES } from './protocol.js';
import type { FromWorker, RecordingWorkerData, ToWorker, WorkerError } from './protocol.js';
import { startWorkerThread } from './start.js';

const MIN_BATCH_BYTES = 16 * 1024;
const BATCH_BYTES = FULL_BATCH_BYTES;
/** Full-size batches kept for reuse, for all sessions together (4 MiB). */
const MAX_SPARES = 16;
const BATCH_MS = 20;
const MAX_IN_FLIGHT = 64 * 1024 * 1024;
const STREAM_INDEX = { i: 0, o: 1, e: 2 } as const;
type Stream = keyof typeof STREAM_INDEX;

const toError = (e: WorkerError): RecordingError =>
  new RecordingError(e.code, e.message, e.userMessage);

interface Pending {
  readonly started: { resolve: () => void; reject: (err: RecordingError) => void };
  readonly recorder: WorkerRecorder;
  readonly onFailure: ((err: RecordingError) => void) | undefined;
}

export interface RecordingWorkerOptions {
  readonly store: StoreConfig;
  readonly keyFile: string;
  readonly config: RecorderConfig;
}

/** One worker thread for every recording of this process, started at the first recording. */
export class RecordingWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly spares: ArrayBuffer[] = [];

  constructor(private readonly options: RecordingWorkerOptions) {}

  /** Starts the thread now (it loads the store's client), so the first session does not wait. */
  prepare(): void {
    this.worker ??= this.spawn();
  }

  /**
   * As `startRecording`, with the work on the worker's thread; `onFailure` is told once if the
   * recording fails for good.
   */
  async start(
    start: RecordingStart,
    onFailure?: (err: RecordingError) => void,
  ): Promise<SessionRecorder> {
    const id = start.info.sessionId;
    const recorder = new WorkerRecorder(
      id,
      this.options.config,
      (m, t) => this.post(m, t),
      (size) => this.allocate(size),
    );
    const started = new Promise<void>((resolve, reject) => {
      this.pending.set(id, { started: { resolve, reject }, recorder, onFailure });
    });
    this.post({ t: 'start', id, start: { ...start, at: start.at ?? wallMs() } });
    if (this.options.config.mode === 'required') await started;
    else started.catch(() => undefined);
    return recorder;
  }

  /** Ends the worker once every recording finished (or at once: `close` waits for none). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  /** A batch's memory: a spare full-size one if there is one, else fresh. */
  private allocate(size: number): Buffer {
    const spare = size === BATCH_BYTES ? this.spares.pop() : undefined;
    return spare ? Buffer.from(spare) : Buffer.allocUnsafeSlow(size);
  }

  private post(message: ToWorker, transfer?: ArrayBuffer[]): void {
    const worker = this.worker ?? this.spawn();
    worker.postMessage(message, transfer ?? []);
  }

  private spawn(): Worker {
    const data: RecordingWorkerData = {
      store: this.options.store,
      keyFile: this.options.keyFile,
      config: this.options.config,
    };
    const worker = startWorkerThread(new URL('./thread', import.meta.url), data);
    worker.unref();
    worker.on('message', (m: FromWorker) => this.receive(m));
    const lost = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      const err = new RecordingError('store', `the recording worker stopped: ${why}`);
      for (const entry of this.pending.values()) this.fail(entry, err);
      this.pending.clear();
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }

  private receive(m: FromWorker): void {
    const entry = this.pending.get(m.id);
    if (!entry) return;
    switch (m.t) {
      case 'started':
        if (m.error) entry.started.reject(toError(m.error));
        else entry.started.resolve();
        return;
      case 'consumed':
        if (m.spare && this.spares.length < MAX_SPARES) this.spares.push(m.spare);
        entry.recorder.consumed(m.bytes);
        return;
      case 'failed':
        this.fail(entry, toError(m.error));
        return;
      case 'finished':
        this.pending.delete(m.id);
        entry.recorder.settle(m.manifest);
        return;
    }
  }

  private fail(entry: Pending, err: RecordingError): void {
    entry.started.reject(err);
    if (entry.recorder.fail(err)) entry.onFailure?.(err);
  }
}

/** The session's recorder: batches bytes for the worker, and measures what it cannot send. */
class WorkerRecorder implements SessionRecorder {
  readonly failed: Promise<RecordingError>;
  private failedResolve!: (err: RecordingError) => void;
  private failure: RecordingError | undefined;
  /** Allocated at the first byte, released at each flush: an idle session holds none. */
  private batch: Buffer | undefined;
  private used = 0;
  /** The next batch's size: grows while batches fill, shrinks when the timer finds one quiet. */
  private capacity = MIN_BATCH_BYTES;
  private pieces: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly cap: number;
  private gaps: Map<Stream, { hash: Hash; bytes: number }> | undefined;
  private finishing: Promise<RecordingManifest | undefined> | undefined;
  private onFinished: ((manifest: RecordingManifest | undefined) => void) | undefined;

  constructor(
    readonly id: string,
    private readonly config: RecorderConfig,
    private readonly send: (message: ToWorker, transfer?: ArrayBuffer[]) => void,
    private readonly allocate: (size: number) => Buffer,
  ) {
    this.cap = Math.min(config.spoolBytes, MAX_IN_FLIGHT);
    this.failed = new Promise((resolve) => (this.failedResolve = resolve));
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

  resize(cols: number, rows: number, at?: number): void {
    if (this.failure || this.finishing) return;
    this.flush();
    this.send({ t: 'resize', id: this.id, cols, rows, at: at ?? wallMs() });
  }

  annotate(info: Partial<Pick<SessionInfo, 'pod' | 'execRequest'>>): void {
    if (this.failure || this.finishing) return;
    this.send({ t: 'annotate', id: this.id, info });
  }

  finish(exit: RecordedExit | undefined): Promise<RecordingManifest | undefined> {
    if (this.finishing) return Promise.resolve(undefined);
    this.finishing = new Promise((resolve) => (this.onFinished = resolve));
    if (this.failure) {
      this.onFinished!(undefined);
      return this.finishing;
    }
    this.flush();
    this.reportGaps();
    this.send({ t: 'finish', id: this.id, exit });
    return this.finishing;
  }

  /** The worker's answer to `finish`. */
  settle(manifest: RecordingManifest | undefined): void {
    this.onFinished?.(manifest);
  }

  /** The worker took `bytes` of a batch. */
  consumed(bytes: number): void {
    this.inFlight -= bytes;
    if (this.gaps && this.inFlight <= this.cap / 2) this.reportGaps();
  }

  /** True the first time: the recording failed for good. */
  fail(err: RecordingError): boolean {
    if (this.failure) return false;
    this.failure = err;
    if (this.timer) clearTimeout(this.timer);
    this.failedResolve(err);
    this.onFinished?.(undefined);
    return true;
  }

  private data(stream: Stream, data: Buffer, at: number | undefined): void {
    if (this.failure || this.finishing || data.length === 0) return;
    if (this.gaps && this.inFlight <= this.cap / 2) this.reportGaps();
    if (this.gaps || this.inFlight + this.used + data.length > this.cap) {
      this.overflow(stream, data);
      return;
    }
    if (this.batch && this.used + data.length > this.batch.length) {
      this.capacity = Math.min(BATCH_BYTES, this.capacity * 2);
      this.flush();
    }
    this.batch ??= this.allocate(Math.max(this.capacity, data.length));
    data.copy(this.batch, this.used);
    this.used += data.length;
    this.pieces.push(STREAM_INDEX[stream], data.length, at ?? wallMs());
    this.timer ??= setTimeout(() => this.onTimer(), BATCH_MS);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.batch && this.used < this.batch.length / 4) this.capacity = MIN_BATCH_BYTES;
    this.flush();
  }

  /** Past the cap: fails a required recording, or starts (or extends) a best-effort gap. */
  private overflow(stream: Stream, data: Buffer): void {
    if (this.config.mode === 'required') {
      this.fail(
        new RecordingError(
          'spool-full',
          `recording ${this.id}: the recorder is too slow (${this.inFlight} bytes waiting)`,
          REQUIRED_RECORDING_FELL_BEHIND,
        ),
      );
      return;
    }
    this.gaps ??= new Map();
    let span = this.gaps.get(stream);
    if (!span) this.gaps.set(stream, (span = { hash: createHash('sha256'), bytes: 0 }));
    span.hash.update(data);
    span.bytes += data.length;
  }

  private reportGaps(): void {
    const gaps = this.gaps;
    if (!gaps) return;
    this.gaps = undefined;
    this.flush();
    const spans: DroppedSpan[] = [...gaps].map(([stream, span]) => ({
      stream,
      bytes: span.bytes,
      sha256: span.hash.digest('hex'),
    }));
    this.send({ t: 'gap', id: this.id, spans });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.batch;
    if (!batch || this.used === 0) return;
    // A batch at least half full is transferred as it is; a smaller one is copied out, so the
    // worker is never sent much more memory than bytes.
    const bytes =
      this.used >= batch.length / 2
        ? (batch.buffer as ArrayBuffer)
        : (batch.buffer.slice(0, this.used) as ArrayBuffer);
    const pieces = new Float64Array(this.pieces);
    this.inFlight += this.used;
    this.batch = undefined;
    this.used = 0;
    this.pieces = [];
    this.send({ t: 'data', id: this.id, bytes, pieces }, [bytes, pieces.buffer]);
  }
}
