/**
 * An authenticated connection's clocks: an idle timeout restarted by channel traffic
 * (`limits.idleTimeoutMs`) and a hard maximum length (`limits.maxSessionMs`).
 *
 * Swept, not timed: one interval per period checks every connection's two deadlines, where each
 * connection used to hold two timers, each with its closure (about 0.6 kB per connection, two
 * connections per jump session). Traffic then costs a field write, not a timer refresh. A limit
 * fires at most one period late: a tenth of the shorter limit, at least 10 ms, at most 1 s. The
 * clock is monotonic, as timers' is: a wall-clock step neither fires nor postpones a limit.
 */
import { performance } from 'node:perf_hooks';
import type { LimitsConfig } from '../config.js';
import type { SessionClocks } from './types.js';

type Limit = 'idle-timeout' | 'max-session-length';

const MIN_PERIOD_MS = 10;
const MAX_PERIOD_MS = 1000;

/** The clocks of every connection whose limits give the same period; unref'd, as timers were. */
class Sweep {
  private readonly clocks = new Set<Clocks>();
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly periodMs: number) {}

  add(c: Clocks): void {
    this.clocks.add(c);
    if (this.timer) return;
    this.timer = setInterval(sweepAll, this.periodMs, this);
    this.timer.unref();
  }

  delete(c: Clocks): void {
    this.clocks.delete(c);
    if (this.clocks.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  check(now: number): void {
    for (const c of this.clocks) c.check(now);
  }
}

function sweepAll(sweep: Sweep): void {
  sweep.check(performance.now());
}

const sweeps = new Map<number, Sweep>();

class Clocks implements SessionClocks {
  private lastActive: number;
  private readonly endsAt: number;

  constructor(
    private readonly sweep: Sweep,
    private readonly idleMs: number,
    maxMs: number,
    private readonly expire: (limit: Limit) => void,
  ) {
    this.lastActive = performance.now();
    this.endsAt = this.lastActive + maxMs;
    sweep.add(this);
  }

  touch(): void {
    this.lastActive = performance.now();
  }

  clear(): void {
    this.sweep.delete(this);
  }

  check(now: number): void {
    if (now >= this.endsAt) this.fire('max-session-length');
    else if (now - this.lastActive >= this.idleMs) this.fire('idle-timeout');
  }

  /** Each limit ends the connection once: the clocks stop at the first that runs out. */
  private fire(limit: Limit): void {
    this.clear();
    this.expire(limit);
  }
}

/** Starts the post-authentication clocks; `expire` names which one ran out. */
export function startSessionClocks(
  limits: Pick<LimitsConfig, 'idleTimeoutMs' | 'maxSessionMs'>,
  expire: (limit: Limit) => void,
): SessionClocks {
  const shorter = Math.min(limits.idleTimeoutMs, limits.maxSessionMs);
  const period = Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, Math.floor(shorter / 10)));
  let sweep = sweeps.get(period);
  if (!sweep) sweeps.set(period, (sweep = new Sweep(period)));
  return new Clocks(sweep, limits.idleTimeoutMs, limits.maxSessionMs, expire);
}
