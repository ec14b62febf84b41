/** Every live connection of one bastion, and every open console session. */
import type { Connection } from 'ssh2';
import { transportOf } from '../ssh2-internals.js';
import { createLiveConnection } from './connection.js';
import type { ActiveSession, ConnectionDeps, ConnectionRegistry, LiveConnection } from './types.js';

export function createConnectionRegistry(deps: ConnectionDeps): ConnectionRegistry {
  const live = new Set<LiveConnection>();
  // ssh2 announces a connection by its client, not by the stream it was given: this maps the
  // stream (TCP socket or jump channel) back to the connection that owns it.
  const byStream = new WeakMap<object, LiveConnection>();
  const sessions = new Set<ActiveSession>();

  const registry: ConnectionRegistry = {
    open(transport, carrier) {
      const connection = createLiveConnection(transport, connectionDeps, carrier);
      live.add(connection);
      byStream.set(transport.stream, connection);
      transport.stream.on('close', () => live.delete(connection));
      deps.metrics.connections.inc({ kind: transport.info.kind });
      return connection;
    },
    attach(client: Connection) {
      const stream = transportOf(client);
      const connection = stream ? byStream.get(stream) : undefined;
      if (!connection) {
        client.end();
        return;
      }
      connection.attach(client);
    },
    track(session) {
      sessions.add(session);
      return () => sessions.delete(session);
    },
    all: () => [...live],
    sessions: () => [...sessions],
  };
  // Built once: a spread per connection gave each connection's deps a map of its own in V8.
  const connectionDeps = { ...deps, registry };
  return registry;
}
