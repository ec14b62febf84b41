/**
 * The bounded spool between a session and its store: finished chunks queue here and are written
 * a few at a time, with a few retries. The recorder checks `hasRoom` before cutting a
 * chunk, so a slow store costs the recording detail, never the session its speed.
 */
import type { RecordingError, RecordingStore } from './types.js';

const RETRY_DELAYS_MS = [100, 500, 2000];

/** Chunks written at once: a store's latency (a file rename, an S3 PUT) overlaps. */
const CONCURRENCY = 4;

export class Spool {
  private readonly queue: Array<{ seq: number; data: Buffer }> = [];
  private queued = 0;
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private error: RecordingError | undefined;

  constructor(
    private readonly store: RecordingStore,
    private readonly id: string,
    readonly capacity: number,
    private readonly onFailed: (err: RecordingError) => void,
    /** Told each chunk once it is stored: its memory may be written into again. */
    private readonly onStored: (data: Buffer) => void = () => undefined,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((r) => setTimeout(r, ms).unref()),
  ) {}

  /** Bytes waiting for the store (queued or being written). */
  get queuedBytes(): number {
    return this.queued;
  }

  get failed(): RecordingError | undefined {
    return this.error;
  }

  /** Whether `bytes` more fit under the capacity. */
  hasRoom(bytes: number): boolean {
    return this.queued + bytes <= this.capacity;
  }

  /** Queues a chunk (even past the capacity: the caller decided it must be kept). */
  push(seq: number, data: Buffer): void {
    if (this.error) return;
    this.queue.push({ seq, data });
    this.queued += data.length;
    this.startWrites();
  }

  /** Resolves once everything queued was written, or the spool failed. */
  drained(): Promise<void> {
    if ((this.inFlight === 0 && this.queue.length === 0) || this.error) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private startWrites(): void {
    while (this.inFlight < CONCURRENCY && this.queue.length > 0 && !this.error) {
      const next = this.queue.shift()!;
      this.inFlight++;
      void this.writeWithRetry(next.seq, next.data).then(
        () => {
          this.settled(next.data.length);
          this.onStored(next.data);
        },
        (err: unknown) => {
          if (!this.error) {
            this.error = err as RecordingError;
            this.queue.length = 0;
            this.onFailed(this.error);
          }
          this.settled(next.data.length);
        },
      );
    }
  }

  private settled(bytes: number): void {
    this.inFlight--;
    this.queued = this.error ? 0 : this.queued - bytes;
    this.startWrites();
    if ((this.inFlight === 0 && this.queue.length === 0) || this.error) {
      const waiting = this.idle;
      this.idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  private async writeWithRetry(seq: number, data: Buffer): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store.putChunk(this.id, seq, data);
        return;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined || this.error) throw err;
        await this.sleep(delay);
      }
    }
  }
}
