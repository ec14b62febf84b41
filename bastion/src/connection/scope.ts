/**
 * What an authenticated connection lends its channel steps: its identity, logger and idle clock,
 * a place to register sessions, and virtual-host injection, whose hops become its children.
 */
import type { Logger } from 'pino';
import type { ServerChannel } from 'ssh2';
import type { AuthenticatedConnection } from '../types.js';
import { virtualHostTransport } from './transport.js';
import type {
  ActiveSession,
  Carrier,
  ConnectionDeps,
  ConnectionRegistry,
  ConnectionScope,
  LiveConnection,
} from './types.js';

/** The connection-side state a scope writes to; it also carries the virtual hosts it serves. */
export interface ScopeOwner extends Carrier {
  readonly logger: Logger;
  /** A session started on this connection itself. */
  sessionStarted(session: ActiveSession): void;
  sessionEnded(session: ActiveSession): void;
  /** A virtual-host connection this one carries. */
  childOpened(child: LiveConnection): void;
  childClosed(child: LiveConnection): void;
}

type ScopeDeps = Pick<ConnectionDeps, 'now' | 'serve'> & { readonly registry: ConnectionRegistry };

/** A class for the reason {@link ScopeOwner}'s connection is one: thousands are held at once. */
class Scope implements ConnectionScope {
  constructor(
    readonly conn: AuthenticatedConnection,
    private readonly owner: ScopeOwner,
    private readonly deps: ScopeDeps,
  ) {}

  get logger(): Logger {
    return this.owner.logger;
  }

  touch(): void {
    this.owner.touch();
  }

  track(session: ActiveSession): () => void {
    this.owner.sessionStarted(session);
    const untrack = this.deps.registry.track(session);
    return () => {
      this.owner.sessionEnded(session);
      untrack();
    };
  }

  serveVirtualHost(channel: ServerChannel, app: string): void {
    const { owner, deps } = this;
    const hop = virtualHostTransport(channel, app, this.conn, deps.now());
    const child = deps.registry.open(hop, owner);
    owner.childOpened(child);
    channel.on('close', () => owner.childClosed(child));
    deps.serve(hop);
  }
}

export function createScope(
  conn: AuthenticatedConnection,
  owner: ScopeOwner,
  deps: ScopeDeps,
): ConnectionScope {
  return new Scope(conn, owner, deps);
}
