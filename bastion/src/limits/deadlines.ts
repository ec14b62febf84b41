/**
 * The connection's clocks: LoginGraceTime before authentication (`limits.authTimeoutMs`), then an
 * idle timeout refreshed by channel traffic (`limits.idleTimeoutMs`) and a hard maximum length
 * (`limits.maxSessionMs`). Timers are unref'd: they never keep a stopping process alive.
 */
import type { LimitsConfig } from '../config.js';
import type { Deadline, SessionClocks } from './types.js';

/** Calls `expire` after `ms` unless cleared first. */
export function armDeadline(ms: number, expire: () => void): Deadline {
  const timer = setTimeout(expire, ms);
  timer.unref();
  return {
    refresh: () => void timer.refresh(),
    clear: () => clearTimeout(timer),
  };
}

/** Starts the post-authentication clocks; `expire` names which one ran out. */
export function startSessionClocks(
  limits: Pick<LimitsConfig, 'idleTimeoutMs' | 'maxSessionMs'>,
  expire: (limit: 'idle-timeout' | 'max-session-length') => void,
): SessionClocks {
  const idle = armDeadline(limits.idleTimeoutMs, () => expire('idle-timeout'));
  const max = armDeadline(limits.maxSessionMs, () => expire('max-session-length'));
  return {
    touch: () => idle.refresh(),
    clear() {
      idle.clear();
      max.clear();
    },
  };
}
