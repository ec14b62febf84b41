/**
 * One-shot deadlines: LoginGraceTime before authentication (`limits.authTimeoutMs`), a protocol
 * error's grace. Timers are unref'd: they never keep a stopping process alive. The clocks of an
 * authenticated connection are swept instead (`session-clocks.ts`).
 */
import type { Deadline } from './types.js';

// A class rather than an object of closures: a connection keeps one until it authenticates, and
// its certificate's expiry for its life (docs/benchmarks.md, "Bastion at scale").
class TimerDeadline implements Deadline {
  constructor(private readonly timer: NodeJS.Timeout) {}
  refresh(): void {
    this.timer.refresh();
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

/** Calls `expire` after `ms` unless cleared first. */
export function armDeadline(ms: number, expire: () => void): Deadline {
  const timer = setTimeout(expire, ms);
  timer.unref();
  return new TimerDeadline(timer);
}
