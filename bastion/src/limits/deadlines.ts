/**
 * The connection's clocks: LoginGraceTime before authentication (`limits.authTimeoutMs`), then an
 * idle timeout refreshed by channel traffic (`limits.idleTimeoutMs`) and a hard maximum length
 * (`limits.maxSessionMs`). Timers are unref'd: they never keep a stopping process alive.
 */
import type { LimitsConfig } from '../config.js';
import type { Deadline, SessionClocks } from './types.js';

// Classes rather than objects of closures: a held connection keeps these for hours, and an
// instance costs a fraction of an object whose every method is a closure (docs/benchmarks.md,
// "Bastion at scale").
class TimerDeadline implements Deadline {
  constructor(private readonly timer: NodeJS.Timeout) {}
  refresh(): void {
    this.timer.refresh();
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

class Clocks implements SessionClocks {
  constructor(
    private readonly idle: Deadline,
    private readonly max: Deadline,
  ) {}
  touch(): void {
    this.idle.refresh();
  }
  clear(): void {
    this.idle.clear();
    this.max.clear();
  }
}

/** Calls `expire` after `ms` unless cleared first. */
export function armDeadline(ms: number, expire: () => void): Deadline {
  const timer = setTimeout(expire, ms);
  timer.unref();
  return new TimerDeadline(timer);
}

/** Starts the post-authentication clocks; `expire` names which one ran out. */
export function startSessionClocks(
  limits: Pick<LimitsConfig, 'idleTimeoutMs' | 'maxSessionMs'>,
  expire: (limit: 'idle-timeout' | 'max-session-length') => void,
): SessionClocks {
  return new Clocks(
    armDeadline(limits.idleTimeoutMs, () => expire('idle-timeout')),
    armDeadline(limits.maxSessionMs, () => expire('max-session-length')),
  );
}
