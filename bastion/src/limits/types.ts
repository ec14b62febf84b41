/**
 * Every limit the bastion enforces, one contract each. Limits count and decide; the caller logs,
 * counts the metric and tells the client, so a limit never needs a logger.
 */
import type { Socket } from 'node:net';

export type AdmissionRefusal =
  | 'max-startups-full'
  | 'max-startups-random-drop'
  | 'per-ip-unauthenticated'
  | 'per-ip-connections'
  | 'per-source-penalty';

/** A TCP connection that took a slot. */
export interface Admitted {
  readonly ok: true;
  /** Call once authentication succeeded: the connection stops counting as unauthenticated. */
  authenticated(): void;
  /** Call once, when the socket closed. Idempotent. */
  release(): void;
  /** Connections evicted to make room (already destroyed), for logs and metrics. */
  readonly evicted: number;
  /** Called once key exchange finished: the key-exchange deadline no longer applies. */
  keyExchanged(): void;
}

export type Admission = Admitted | { readonly ok: false; readonly reason: AdmissionRefusal };

/** TCP admission (MaxStartups, PerSourceMaxStartups, per-IP connections). */
export interface ConnectionGate {
  /** Called for each accepted socket before any SSH byte is read. Never throws. */
  admit(socket: Socket, ip: string): Admission;
  /** Admitted connections that have not authenticated yet. */
  readonly unauthenticated: number;
}

/** Open console sessions per user. */
export interface UserSessions {
  /** Called when a session is about to open a console; false when the user is at the cap. */
  tryAcquire(user: string): boolean;
  /** Called once per successful `tryAcquire`, when that session ended. */
  release(user: string): void;
}

/** Authentication requests of one connection (MaxAuthTries, counted on arrival). */
export interface AuthTries {
  readonly attempts: number;
  /**
   * Called for each authentication request before anything else looks at it; false once the
   * limit is passed: the request must not be evaluated and the connection is to be closed.
   */
  attempt(): boolean;
}

/** What a source address can be penalised for (each has its seconds in the config). */
export type PenaltyOffence = 'graceExceeded' | 'authTries' | 'badUsername';

/** Per-source penalties (OpenSSH PerSourcePenalties). */
export interface SourcePenalties {
  /** Called at accept: the seconds left when `ip` is being refused, else undefined. */
  refused(ip: string): number | undefined;
  /** Called when a pre-auth connection from `ip` misbehaved. */
  offend(ip: string, offence: PenaltyOffence): void;
  /** Sources in the table (bounded by `maxSources`). */
  readonly size: number;
}

/** Open channels of one connection. */
export interface ChannelBudget {
  readonly open: number;
  /** Called when the client asks for a channel; false (nothing reserved) when at the cap. */
  tryReserve(): boolean;
  /** Called once per reservation, when that channel closed or was refused after all. */
  release(): void;
}

/** A one-shot timer. */
export interface Deadline {
  /** Starts the wait over (idle timers). */
  refresh(): void;
  /** Disarms it. Idempotent. */
  clear(): void;
}

/** The clocks of an authenticated connection: idle timeout and maximum length. */
export interface SessionClocks {
  /** Called on channel traffic: restarts the idle timeout. */
  touch(): void;
  /** Called when the connection closes. Idempotent. */
  clear(): void;
}
