/**
 * Port forwarding on the local platform: one TCP connection to a port a running instance
 * listens on, over the host's loopback (see listeners.ts for why "its" port, not any port).
 */
import net from 'node:net';
import { abortError } from '../abort.js';
import { BadRequest, PortForwardRefused, Unavailable } from '../errors.js';
import type { PortForwardOptions, PortForwardStream } from '../types.js';
import { requireApp } from './apps.js';
import { EVENTS } from './events.js';
import { listenAddress } from './listeners.js';
import { resolveTarget } from './targets.js';
import type { LocalPlatformState } from './types.js';

function refused(instance: string, port: number, cause?: unknown): PortForwardRefused {
  return new PortForwardRefused(
    `connection refused by ${instance}:${port}: nothing listens on that port`,
    cause === undefined ? undefined : { cause },
  );
}

/** Resolves once connected; rejects with PortForwardRefused when the port does not answer. */
function connect(host: string, port: number, instance: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.destroy();
      reject(err.code === 'ECONNREFUSED' ? refused(instance, port, err) : err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** Open forwards per platform, all reset by its `close()` through one listener. */
const open = new WeakMap<LocalPlatformState, Set<net.Socket>>();

function track(state: LocalPlatformState, socket: net.Socket): void {
  let sockets = open.get(state);
  if (!sockets) {
    const created = new Set<net.Socket>();
    state.closing.signal.addEventListener('abort', () => {
      for (const s of created) s.destroy();
    });
    open.set(state, created);
    sockets = created;
  }
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  if (state.closing.signal.aborted) socket.destroy();
}

export async function openPortForward(
  state: LocalPlatformState,
  app: string,
  options: PortForwardOptions,
): Promise<PortForwardStream> {
  await requireApp(state, app);
  const { target, port } = options;
  if (target.process === undefined && target.pod === undefined) {
    throw new BadRequest(
      'a one-off console has no ports to forward: name a running process (`web`) or instance (`web.1`)',
      { code: 'port_forward_needs_process' },
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BadRequest(`port ${port} is not a TCP port (1-65535)`, { code: 'invalid_port' });
  }
  if (state.closing.signal.aborted) throw new Unavailable('the platform is shutting down');
  const instance = await resolveTarget(state, app, target);
  const address = await listenAddress(instance.pid, port);
  if (address === null) throw refused(instance.name, port);
  // Without /proc, only the port the platform gave the instance is known to be its own.
  if (address === undefined && instance.env.PORT !== String(port))
    throw refused(instance.name, port);
  if (options.signal?.aborted) throw abortError(options.signal);
  const socket = await connect(address ?? '127.0.0.1', port, instance.name);
  track(state, socket);
  if (options.signal) {
    const signal = options.signal;
    const end = (): void => {
      socket.destroy();
    };
    signal.addEventListener('abort', end, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', end));
    if (signal.aborted) end();
  }
  state.logger.debug(
    { app, process: instance.name, port, sessionId: options.sessionId, user: options.user },
    EVENTS.portForwardOpened,
  );
  return Object.assign(socket, { instance: instance.name });
}
