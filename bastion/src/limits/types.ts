/**
 * Every limit the bastion enforces, one contract each. Limits count and decide; the caller logs,
 * counts the metric and tells the client, so a limit never needs a logger.
 */
import type { Socket } from 'node:net';

export type AdmissionRefusal =
  | 'max-startups-full'
  | 'max-startups-random-drop'
  | 'per-ip-unauthenticated'
  | 'per-ip-connections';

/** A TCP connection that took a slot. */
export interface Admitted {
  readonly ok: true;
  /** Call once authentication succeeded: the connection stops counting as unauthenticated. */
  authenticated(): void;
  /** Call once, when the socket closed. Idempotent. */
  release(): void;
  /** Connections evicted to make room (already destroyed), for logs and metrics. */
  readonly evicted: number;
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

/** Failed authentication attempts of one connection. */
export interface AuthTries {
  readonly failures: number;
  /** Called on each failed attempt; true once the connection has reached the limit. */
  fail(): boolean;
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
