/**
 * Per-source penalties, after OpenSSH's PerSourcePenalties: a source address whose connections
 * keep misbehaving before authentication (never finishing key exchange or authentication in
 * time, exhausting MaxAuthTries, sending absurd user names) is refused at accept for a while.
 * Each offence adds its penalty to the source's remaining time, capped at `maxSeconds`; the
 * penalty is enforced once the remaining time reaches `minSeconds` (so one slow legitimate
 * client is never locked out) and lasts until it runs out. The table is bounded: when full, the
 * entry that expires first makes room. Authenticated behaviour is never penalised.
 */
import type { LimitsConfig } from '../config.js';
import type { PenaltyOffence, SourcePenalties } from './types.js';

interface Penalty {
  /** Epoch ms at which the penalty runs out. */
  until: number;
  /** Set once the remaining time reached `minSeconds`; refused while set and not expired. */
  active: boolean;
}

export function createSourcePenalties(
  config: LimitsConfig['perSourcePenalties'],
  now: () => number = Date.now,
): SourcePenalties {
  const table = new Map<string, Penalty>();
  const exempt = new Set(config.exempt);

  function makeRoom(t: number): void {
    for (const [ip, p] of table) if (p.until <= t) table.delete(ip);
    if (table.size < config.maxSources) return;
    let first: string | undefined;
    let firstUntil = Infinity;
    for (const [ip, p] of table) {
      if (p.until < firstUntil) {
        first = ip;
        firstUntil = p.until;
      }
    }
    if (first !== undefined) table.delete(first);
  }

  return {
    get size() {
      return table.size;
    },
    refused(ip) {
      if (!config.enabled) return undefined;
      const p = table.get(ip);
      if (!p) return undefined;
      const t = now();
      if (p.until <= t) {
        table.delete(ip);
        return undefined;
      }
      return p.active ? Math.ceil((p.until - t) / 1000) : undefined;
    },
    offend(ip, offence: PenaltyOffence) {
      if (!config.enabled || exempt.has(ip)) return;
      const t = now();
      let p = table.get(ip);
      if (!p || p.until <= t) {
        if (!p && table.size >= config.maxSources) makeRoom(t);
        p = { until: t, active: false };
        table.set(ip, p);
      }
      const add = config[offence] * 1000;
      p.until = Math.min(p.until + add, t + config.maxSeconds * 1000);
      if (p.until - t >= config.minSeconds * 1000) p.active = true;
    },
  };
}
