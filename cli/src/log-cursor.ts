/**
 * Where a followed log stream is, so that `logs --tail` can reconnect without gaps or
 * duplicates: it asks again from the time of the last line it saw (`since`, which the API
 * answers with the lines at or after that time), and drops the lines of the boundary it already
 * printed. A server may round `since` down to the second (Kubernetes' `sinceTime` does), so the
 * lines of the last second are remembered, by time, process and text, counted (a process may
 * print the same line twice in one millisecond).
 */
import type { LogLineBody } from '@neetodeploy/contract';

/** How far back from the last line's time lines are remembered (one second: sinceTime's grain). */
const WINDOW_MS = 1000;
/** Bounds memory when an app prints very many lines per second. */
const MAX_REMEMBERED = 20_000;

interface Remembered {
  readonly at: number;
  readonly key: string;
}

function keyOf(line: LogLineBody): string {
  return `${line.time}\u0000${line.source}\u0000${line.process}\u0000${line.line}`;
}

export class LogCursor {
  private lastTime: string | undefined;
  private lastMs = -Infinity;
  private readonly order: Remembered[] = [];
  private readonly counts = new Map<string, number>();
  /** Lines still to drop, per key, since the last {@link resume}. */
  private readonly replay = new Map<string, number>();

  /** The `since` to reconnect with: the last line's time, or undefined before any line. */
  get since(): string | undefined {
    return this.lastTime;
  }

  /** Call on reconnecting: the remembered lines are the ones to drop if they come again. */
  resume(): void {
    this.replay.clear();
    for (const [key, n] of this.counts) this.replay.set(key, n);
  }

  /**
   * Records a received line; false when it is one already seen before the reconnection (drop
   * it). Lines older than the window are neither remembered nor dropped.
   */
  accept(line: LogLineBody): boolean {
    const key = keyOf(line);
    const pending = this.replay.get(key);
    if (pending !== undefined) {
      if (pending <= 1) this.replay.delete(key);
      else this.replay.set(key, pending - 1);
      return false;
    }
    const at = Date.parse(line.time);
    if (Number.isNaN(at)) return true;
    if (at > this.lastMs) {
      this.lastMs = at;
      this.lastTime = line.time;
      this.forgetBefore(at - WINDOW_MS);
    }
    if (at >= this.lastMs - WINDOW_MS) {
      this.order.push({ at, key });
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      if (this.order.length > MAX_REMEMBERED) this.forgetOldest();
    }
    return true;
  }

  private forgetBefore(ms: number): void {
    while (this.order.length > 0 && (this.order[0]?.at ?? Infinity) < ms) this.forgetOldest();
  }

  private forgetOldest(): void {
    const first = this.order.shift();
    if (first === undefined) return;
    const n = (this.counts.get(first.key) ?? 1) - 1;
    if (n <= 0) this.counts.delete(first.key);
    else this.counts.set(first.key, n);
  }
}
