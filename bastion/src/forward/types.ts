/**
 * The contract of port forwarding: a `direct-tcpip` channel to `localhost:PORT` (or
 * `127.0.0.1:PORT`) becomes one TCP connection to that port inside the connection's target
 * process or pod, through {@link Platform.openPortForward}. What is refused, and why, is decided
 * before anything is opened; each refusal reaches the client as an SSH open failure whose text
 * OpenSSH prints (`channel 2: open failed: administratively prohibited: ...`).
 */
import type { Platform } from '@neetodeploy/platform';
import type { BastionConfig } from '../config.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { UserSessions } from '../limits/index.js';
import type { ChannelOpenFailure } from '../ssh2-internals.js';

export type ForwardingConfig = BastionConfig['portForwarding'];

/** RFC 4254 §5.1, as OpenSSH names them. */
export const OPEN_FAILURE = {
  administrativelyProhibited: 1,
  connectFailed: 2,
  unknownChannelType: 3,
  resourceShortage: 4,
} as const;

/** Why a forward was refused: the `reason` label of the refusal metric and audit event. */
export type RefusalReason =
  | 'disabled'
  | 'not-permitted'
  | 'expired'
  | 'no-target'
  | 'destination'
  | 'one-off'
  | 'limit'
  | 'not-found'
  | 'connect-failed'
  | 'timeout'
  | 'error';

export interface Refusal {
  readonly reason: RefusalReason;
  readonly failure: ChannelOpenFailure;
}

/** Audit events of forwards: one `open` and one `close` per accepted forward, one per refusal. */
export interface ForwardAudit {
  open(event: ForwardOpenEvent): void;
  close(event: ForwardCloseEvent): void;
  refused(event: ForwardRefusedEvent): void;
}

export interface ForwardOpenEvent {
  readonly connectionId: string;
  readonly forwardId: string;
  readonly user: string;
  readonly keyId: string;
  readonly app: string;
  /** `demo:web` or `demo:pod=web.1`, as the user asked. */
  readonly target: string;
  /** What serves it: `web.1` locally, the pod name on Kubernetes. */
  readonly instance: string;
  readonly port: number;
  readonly ip: string;
  readonly kind: 'direct' | 'jump';
}

export interface ForwardCloseEvent {
  readonly connectionId: string;
  readonly forwardId: string;
  readonly user: string;
  readonly app: string;
  readonly instance: string;
  readonly port: number;
  /** From the client to the port. */
  readonly bytesIn: number;
  /** From the port to the client. */
  readonly bytesOut: number;
  readonly durationMs: number;
  /** Set when it ended by an error (a reset) rather than by both sides closing. */
  readonly error?: string;
}

export interface ForwardRefusedEvent {
  readonly connectionId: string;
  readonly user: string;
  readonly app: string | null;
  /** `host:port` as the client asked. */
  readonly dest: string;
  readonly reason: RefusalReason;
  readonly message: string;
  readonly ip: string;
  readonly kind: 'direct' | 'jump';
}

export interface ForwardDeps {
  readonly platform: Platform;
  readonly config: ForwardingConfig;
  /** Open forwards per user on this process (`portForwarding.maxPerUser`). */
  readonly perUser: UserSessions;
  readonly metrics: BastionMetrics;
  readonly audit: ForwardAudit;
  readonly now: () => Date;
}
