/**
 * Admission limits with OpenSSH's defences as the bar: per-source penalties (PerSourcePenalties),
 * MaxStartups (random early drop of unauthenticated connections between `begin` and `full`),
 * PerSourceMaxStartups and a per-IP connection cap. One difference from sshd: before refusing a
 * newcomer, the gate evicts an unauthenticated connection to make room: the least advanced
 * first (silent for a while, then not past key exchange, then the rest), among those one from
 * the source that holds the most unauthenticated slots, and among those the oldest. So a flood
 * of sockets that connect, maybe send a banner, and wait cannot lock out clients that actually
 * log in: those finish key exchange within milliseconds, and a lone client's source holds one
 * slot while each flooding source holds many.
 */
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../config.js';
import type { AdmissionRefusal, ConnectionGate, SourcePenalties } from './types.js';

interface Entry {
  readonly socket: Socket;
  readonly ip: string;
  authenticated: boolean;
  released: boolean;
  keyExchanged: boolean;
  /** `clock()` at admission (ms). */
  readonly since: number;
}

/**
 * A just-accepted client has usually sent its banner already, but under a flood of accepts the
 * bastion may not have read it yet: only a socket silent for this long counts as silent.
 */
const SILENT_GRACE_MS = 1000;

/** How far a pending connection got: lower is evicted first. */
function progress(e: Entry, now: number): number {
  if (e.socket.bytesRead === 0 && now - e.since >= SILENT_GRACE_MS) return 0;
  return e.keyExchanged ? 2 : 1;
}

export function createConnectionGate(
  limits: LimitsConfig,
  random: () => number = Math.random,
  penalties?: SourcePenalties,
  clock: () => number = () => performance.now(),
): ConnectionGate {
  // Insertion order is accept order: the first silent entry is the oldest.
  const pending = new Set<Entry>();
  const pendingPerIp = new Map<string, number>();
  const totalPerIp = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string, d: number): void => {
    const v = (m.get(k) ?? 0) + d;
    if (v <= 0) m.delete(k);
    else m.set(k, v);
  };

  function leavePending(e: Entry): void {
    if (pending.delete(e)) inc(pendingPerIp, e.ip, -1);
  }

  /** Evicts the pending entry that `filter` allows and that matters least (see above). */
  function evict(filter: (e: Entry) => boolean): boolean {
    const now = clock();
    let victim: Entry | undefined;
    let key = [Infinity, 0];
    // Insertion order is accept order: on a tie, the first one seen is the oldest.
    for (const e of pending) {
      if (!filter(e)) continue;
      const k = [progress(e, now), pendingPerIp.get(e.ip) ?? 0];
      if (k[0]! < key[0]! || (k[0] === key[0] && k[1]! > key[1]!)) {
        victim = e;
        key = k;
      }
    }
    if (!victim) return false;
    leavePending(victim);
    victim.socket.destroy();
    return true;
  }

  return {
    get unauthenticated() {
      return pending.size;
    },
    admit(socket, ip) {
      let evicted = 0;
      if (penalties?.refused(ip) !== undefined) return { ok: false, reason: 'per-source-penalty' };
      if ((totalPerIp.get(ip) ?? 0) >= limits.perIpConnections) {
        return { ok: false, reason: 'per-ip-connections' };
      }
      if ((pendingPerIp.get(ip) ?? 0) >= limits.perIpUnauthenticated) {
        if (!evict((e) => e.ip === ip)) return { ok: false, reason: 'per-ip-unauthenticated' };
        evicted++;
      }
      const { begin, rate, full } = limits.maxStartups;
      const n = pending.size;
      let refusal: AdmissionRefusal | undefined;
      if (n >= full) refusal = 'max-startups-full';
      else if (n >= begin) {
        const p = full === begin ? 100 : rate + ((100 - rate) * (n - begin)) / (full - begin);
        if (random() * 100 < p) refusal = 'max-startups-random-drop';
      }
      if (refusal) {
        if (!evict(() => true)) return { ok: false, reason: refusal };
        evicted++;
      }
      const entry: Entry = {
        socket,
        ip,
        authenticated: false,
        released: false,
        keyExchanged: false,
        since: clock(),
      };
      pending.add(entry);
      inc(pendingPerIp, ip, 1);
      inc(totalPerIp, ip, 1);
      return {
        ok: true,
        evicted,
        keyExchanged() {
          entry.keyExchanged = true;
        },
        authenticated() {
          entry.authenticated = true;
          leavePending(entry);
        },
        release() {
          if (entry.released) return;
          entry.released = true;
          leavePending(entry);
          inc(totalPerIp, ip, -1);
        },
      };
    },
  };
}
