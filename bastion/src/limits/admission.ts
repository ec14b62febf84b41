/**
 * Admission limits with OpenSSH's defences as the bar: MaxStartups (random early drop of
 * unauthenticated connections between `begin` and `full`), PerSourceMaxStartups and a per-IP
 * connection cap. One difference from sshd: before refusing a
 * newcomer, the gate evicts the oldest unauthenticated connection that has not sent a single
 * byte, so a flood of silent sockets cannot lock out clients that actually speak.
 */
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../config.js';
import type { AdmissionRefusal, ConnectionGate } from './types.js';

interface Entry {
  readonly socket: Socket;
  readonly ip: string;
  authenticated: boolean;
  released: boolean;
}

export function createConnectionGate(
  limits: LimitsConfig,
  random: () => number = Math.random,
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

  function evictSilent(filter: (e: Entry) => boolean): boolean {
    for (const e of pending) {
      if (e.socket.bytesRead === 0 && filter(e)) {
        leavePending(e);
        e.socket.destroy();
        return true;
      }
    }
    return false;
  }

  return {
    get unauthenticated() {
      return pending.size;
    },
    admit(socket, ip) {
      let evicted = 0;
      if ((totalPerIp.get(ip) ?? 0) >= limits.perIpConnections) {
        return { ok: false, reason: 'per-ip-connections' };
      }
      if ((pendingPerIp.get(ip) ?? 0) >= limits.perIpUnauthenticated) {
        if (!evictSilent((e) => e.ip === ip))
          return { ok: false, reason: 'per-ip-unauthenticated' };
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
        if (!evictSilent(() => true)) return { ok: false, reason: refusal };
        evicted++;
      }
      const entry: Entry = { socket, ip, authenticated: false, released: false };
      pending.add(entry);
      inc(pendingPerIp, ip, 1);
      inc(totalPerIp, ip, 1);
      return {
        ok: true,
        evicted,
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
