/**
 * What an authenticated connection lends its channel steps: its identity, logger and idle clock,
 * a place to register sessions, and virtual-host injection, whose hops become its children.
 */
import type { Logger } from 'pino';
import type { AuthenticatedConnection } from '../types.js';
import { virtualHostTransport } from './transport.js';
import type {
  ActiveSession,
  ConnectionDeps,
  ConnectionRegistry,
  ConnectionScope,
  LiveConnection,
} from './types.js';

/** The connection-side state a scope writes to. */
export interface ScopeOwner {
  readonly logger: Logger;
  readonly touch: () => void;
  /** Sessions started on this connection. */
  readonly sessions: Set<ActiveSession>;
  /** Virtual-host connections this one carries. */
  readonly children: Set<LiveConnection>;
}

export function createScope(
  conn: AuthenticatedConnection,
  owner: ScopeOwner,
  deps: Pick<ConnectionDeps, 'now' | 'serve'> & { readonly registry: ConnectionRegistry },
): ConnectionScope {
  return {
    conn,
    logger: owner.logger,
    touch: owner.touch,
    track(session) {
      owner.sessions.add(session);
      const untrack = deps.registry.track(session);
      return () => {
        owner.sessions.delete(session);
        untrack();
      };
    },
    serveVirtualHost(channel, app) {
      const hop = virtualHostTransport(channel, app, conn.info, deps.now());
      const child = deps.registry.open(hop, { touch: owner.touch });
      owner.children.add(child);
      channel.on('close', () => owner.children.delete(child));
      deps.serve(hop);
    },
  };
}
