/**
 * Connection state in types: a {@link PendingConnection} becomes an
 * {@link AuthenticatedConnection} only through the authenticator, so code that opens consoles
 * or forwards channels can never be handed an unauthenticated value.
 */
import type { Certificate } from '@neetodeploy/sshcert';
import type { ConsoleTarget, Platform } from '@neetodeploy/platform';
import type { Logger } from 'pino';
import type { Writable } from 'node:stream';

/** Where a connection comes from and what carries it. */
export interface ConnectionInfo {
  /** Unique per connection, in every log line and audit event. */
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  /** `direct` for TCP clients, `jump` for the in-process virtual host behind ProxyJump. */
  readonly kind: 'direct' | 'jump';
  /** For `jump`: the app named by the virtual host `<app>.neetodeploy`. */
  readonly virtualHostApp?: string;
  /** The parent connection's id for `jump`. */
  readonly parentId?: string;
  /**
   * The byte streams between this connection and the client, innermost first (for a jump: the
   * outer channel, then the TCP socket). Output is paused while any of them holds too much.
   */
  readonly transport: readonly Writable[];
  readonly startedAt: Date;
}

/** What the SSH user name asks for (see docs/identity.md). */
export interface SessionTarget extends ConsoleTarget {
  readonly app: string;
}

/** Before authentication: only the authenticator reads it. */
export interface PendingConnection {
  readonly state: 'pending';
  readonly info: ConnectionInfo;
  /** For a virtual host: the certificate its carrying connection authenticated with. */
  readonly carrierCertificate?: Certificate;
}

/** The verified identity of a certificate holder. */
export interface VerifiedIdentity {
  /** The email part of the key id (everything before the last `:`). */
  readonly user: string;
  readonly keyId: string;
  readonly requestId: string;
  readonly serial: bigint;
  /** Apps the certificate grants. */
  readonly principals: readonly string[];
  readonly extensions: Readonly<Record<string, string>>;
  readonly validBefore: bigint;
  readonly certificate: Certificate;
}

export interface AuthenticatedConnection {
  readonly state: 'authenticated';
  readonly info: ConnectionInfo;
  readonly identity: VerifiedIdentity;
  /**
   * The target named by the user name, when the certificate lists its app. Undefined for a
   * ProxyJump hop whose user name names no listed app: such a connection may only open
   * `direct-tcpip` channels to the virtual hosts of apps its certificate lists.
   */
  readonly target?: SessionTarget;
  readonly username: string;
}

/** What `createBastion` needs from outside. */
export interface BastionDeps {
  readonly platform: Platform;
  readonly logger: Logger;
  /** Injected clock (tests move time). Default `() => new Date()`. */
  readonly now?: () => Date;
}

/**
 * `T` with the fields `K` writable, for the one module that owns them. Such state is kept in
 * data properties rather than getters over closure variables: V8 keeps an object literal with a
 * getter in slow dictionary mode, about 0.5 kB more for each one a held connection keeps.
 */
export type OwnedBy<T, K extends keyof T> = Omit<T, K> & { -readonly [P in K]: T[P] };
