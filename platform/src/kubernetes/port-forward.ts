/**
 * Port forwarding on Kubernetes: one TCP connection to `localhost:PORT` inside a running pod
 * of the app, through `pods/portforward`. The target is resolved exactly as a console's is
 * (process type → its first running pod; pod or instance name → that pod, only among the
 * app's own pods), so a name cannot reach another app's pod.
 */
import { abortError } from '../abort.js';
import { AccessDenied, BadRequest, NotFound, Unavailable } from '../errors.js';
import type { PortForwardOptions, PortForwardStream } from '../types.js';
import { requireApp } from './apps.js';
import { KubeApiError } from './client.js';
import { EVENTS } from './events.js';
import { namespaceOf } from './namespaces.js';
import { forwardStream } from './port-forward-stream.js';
import { resolveTarget } from './targets.js';
import type { KubernetesPlatformState } from './types.js';

/** The kubelet's websocket port-forward speaks only the binary v4 channel protocol. */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io'] as const;

/**
 * The User-Agent of a session's requests: the cluster's audit log then names the person and
 * the session although the platform authenticates as its own service account.
 */
export function sessionUserAgent(sessionId: string, user: string): string {
  // Header values must be printable ASCII; anything else would make the request fail.
  const clean = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return `neetodeploy-access (session ${clean(sessionId)}; user ${clean(user)})`;
}

/** Open forwards per platform, reset by its `close()` (one listener, however many forwards). */
const openForwards = new WeakMap<KubernetesPlatformState, Set<PortForwardStream>>();

function trackForward(state: KubernetesPlatformState, stream: PortForwardStream): void {
  let open = openForwards.get(state);
  if (!open) {
    const streams = new Set<PortForwardStream>();
    open = streams;
    openForwards.set(state, streams);
    state.closing.signal.addEventListener(
      'abort',
      () => {
        for (const s of streams) s.destroy();
      },
      { once: true },
    );
  }
  const streams = open;
  streams.add(stream);
  stream.once('close', () => streams.delete(stream));
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BadRequest(`port ${String(port)} is not a TCP port (1-65535)`, {
      code: 'invalid_port',
    });
  }
}

/** Maps a refused upgrade to what the user sees. */
function refusal(err: unknown, what: string): unknown {
  if (!(err instanceof KubeApiError)) return err;
  const options = { cause: err, message: err.message };
  if (err.code === 403) {
    return new AccessDenied(
      `${what}: port forwarding is not enabled on this cluster (the platform may not open pods/portforward); ask an operator to enable it`,
      { ...options, code: 'port_forward_disabled' },
    );
  }
  if (err.code === 404) return new NotFound(`${what}: the pod is gone`, options);
  if (err.code === 400) {
    return new Unavailable(`${what}: the cluster refused (${err.status?.message ?? ''})`, options);
  }
  return new Unavailable(`${what}: the forward could not be opened; try again`, options);
}

export async function openKubernetesPortForward(
  state: KubernetesPlatformState,
  app: string,
  options: PortForwardOptions,
): Promise<PortForwardStream> {
  checkPort(options.port);
  const { target } = options;
  if (target.process === undefined && target.pod === undefined) {
    throw new BadRequest(
      'a one-off console has no ports to forward: name a process type or pod (e.g. --process web)',
      { code: 'port_forward_needs_target' },
    );
  }
  await requireApp(state, app);
  const { podName, instance } = await resolveTarget(state, app, target);
  if (options.signal?.aborted) throw abortError(options.signal);
  const ns = namespaceOf(state, app);
  const what = `port ${options.port} in ${instance} of ${app}`;
  let ws;
  try {
    ws = await state.client.websocket(
      `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(podName)}/portforward`,
      { ports: options.port },
      PORT_FORWARD_PROTOCOLS,
      { 'User-Agent': sessionUserAgent(options.sessionId, options.user) },
    );
  } catch (err) {
    throw refusal(err, what);
  }
  const onAbort = () => ws.terminate();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let stream: PortForwardStream;
  try {
    stream = await forwardStream(ws, {
      port: options.port,
      instance: podName,
      name: instance,
      refusalWaitMs: state.config.portForward.refusalWaitMs,
      openTimeoutMs: state.config.requestTimeoutMs,
    });
  } catch (err) {
    options.signal?.removeEventListener('abort', onAbort);
    throw options.signal?.aborted ? abortError(options.signal) : err;
  }
  options.signal?.removeEventListener('abort', onAbort);
  if (options.signal?.aborted) {
    stream.destroy();
    throw abortError(options.signal);
  }
  // Aborting (or the platform closing) resets the connection without an 'error' event: the
  // one who aborted knows, and nobody else may be listening for errors any more.
  const signal = options.signal;
  if (signal) {
    const reset = () => stream.destroy();
    signal.addEventListener('abort', reset, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', reset));
  }
  trackForward(state, stream);
  state.logger.info(
    { app, pod: podName, port: options.port, sessionId: options.sessionId },
    EVENTS.portForwardOpened,
  );
  return stream;
}
