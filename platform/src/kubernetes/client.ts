/**
 * One transport to the API server for REST, streams (watch, logs) and exec websockets. It takes
 * credentials and TLS from client-node's KubeConfig (kubeconfig file or in-cluster service
 * account) but speaks HTTP itself, because the generated clients offer neither backpressure on
 * streams nor the raw Status of a refused request, both of which consoles and logs need.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import {
  AccessDenied,
  AppError,
  BadRequest,
  Conflict,
  NotFound,
  Unauthenticated,
  Unavailable,
} from '../errors.js';

/** The `metav1.Status` the API server returns for errors. */
export interface KubeStatus {
  readonly kind?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: {
    readonly name?: string;
    readonly kind?: string;
    readonly causes?: readonly { reason?: string; message?: string; field?: string }[];
  };
}

/** A request the API server answered with an error Status. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: KubeStatus | undefined,
    what: string,
  ) {
    super(`${what}: ${code} ${status?.reason ?? ''} ${status?.message ?? ''}`.trim());
    this.name = 'KubeApiError';
  }
}

export type Query = Readonly<
  Record<string, string | number | boolean | readonly string[] | undefined>
>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface KubeClient {
  /** The namespace of the kubeconfig's context (or of the in-cluster service account). */
  readonly defaultNamespace: string | undefined;
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** A streaming GET (watch, logs): the response once its status is 2xx. */
  stream(path: string, options?: RequestOptions): Promise<IncomingMessage>;
  /**
   * Opens a websocket (exec, port-forward); rejects with KubeApiError when the upgrade is
   * refused. `headers` are added to the upgrade request (e.g. a User-Agent naming the session).
   */
  websocket(
    path: string,
    query: Query,
    protocols: readonly string[],
    headers?: Readonly<Record<string, string>>,
  ): Promise<WebSocket>;
  close(): void;
}

export function loadKubeConfig(options: {
  kubeconfigPath?: string | undefined;
  context?: string | undefined;
}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
  else kc.loadFromCluster();
  if (options.context) kc.setCurrentContext(options.context);
  return kc;
}

/** `?a=1&b=x&b=y` for a query, as requests send it ('' when empty). */
export function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (typeof value === 'object') for (const v of value) params.append(key, v);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function readBody(res: IncomingMessage, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Unavailable('the cluster API sent an oversized answer');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseStatus(text: string): KubeStatus | undefined {
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Where requests go and with what credentials; shared by every request of one client. */
interface ApiServer {
  readonly kc: KubeConfig;
  readonly base: URL;
  readonly secure: boolean;
  readonly basePath: string;
  readonly agent: http.Agent;
}

export function createKubeClient(kc: KubeConfig, timeoutMs: number): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no cluster');
  const base = new URL(cluster.server);
  const secure = base.protocol === 'https:';
  const server: ApiServer = {
    kc,
    base,
    secure,
    basePath: base.pathname.replace(/\/+$/, ''),
    agent: secure
      ? new https.Agent({ keepAlive: true, maxSockets: 256 })
      : new http.Agent({ keepAlive: true, maxSockets: 256 }),
  };
  const contextName = kc.getCurrentContext();

  return {
    defaultNamespace: kc.getContextObject(contextName)?.namespace,

    async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
      const res = await send(server, method, path, o, timeoutMs);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw await failure(res, `${method} ${path}`);
      const text = await readBody(res);
      return (text ? JSON.parse(text) : undefined) as T;
    },

    async stream(path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
      const res = await send(server, 'GET', path, o, undefined);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw await failure(res, `GET ${path}`);
      return res;
    },

    websocket(
      path: string,
      query: Query,
      protocols: readonly string[],
      headers?: Readonly<Record<string, string>>,
    ): Promise<WebSocket> {
      return openWebSocket(server, path, query, protocols, timeoutMs, headers);
    },

    close(): void {
      server.agent.destroy();
    },
  };
}

async function requestOptions(
  { kc, base, secure, basePath }: ApiServer,
  method: string,
  path: string,
  query: Query | undefined,
) {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return {
    ...opts,
    method,
    protocol: base.protocol,
    hostname: base.hostname,
    port: base.port || (secure ? 443 : 80),
    path: `${basePath}${path}${queryString(query)}`,
    headers: { ...opts.headers, Accept: 'application/json' } as http.OutgoingHttpHeaders,
  };
}

/**
 * Sends one request; resolves with the response, whatever its status.
 *
 * A kept-alive socket the server closed while idle fails the next request sent on it with
 * ECONNRESET before any answer; the server never read that request, so it is sent once more on
 * a new connection (as Go's client, and Node's own documentation for `reusedSocket`, do).
 */
async function send(
  server: ApiServer,
  method: string,
  path: string,
  o: RequestOptions,
  timeout: number | undefined,
): Promise<IncomingMessage> {
  try {
    return await sendOnce(server, method, path, o, timeout);
  } catch (err) {
    if (!(err instanceof StaleSocket)) throw err;
    return sendOnce(server, method, path, o, timeout).catch((again: unknown) => {
      throw again instanceof StaleSocket ? again.unreachable : again;
    });
  }
}

/** A reused keep-alive socket was found closed before the server answered. */
class StaleSocket extends Error {
  constructor(readonly unreachable: Unavailable) {
    super('stale keep-alive socket');
  }
}

function sendOnce(
  server: ApiServer,
  method: string,
  path: string,
  o: RequestOptions,
  timeout: number | undefined,
): Promise<IncomingMessage> {
  return requestOptions(server, method, path, o.query).then(
    (opts) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const body = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
        const headers = { ...opts.headers };
        if (body) {
          headers['Content-Type'] = o.contentType ?? 'application/json';
          headers['Content-Length'] = body.length;
        }
        const req = (server.secure ? https : http).request({
          ...opts,
          headers,
          agent: server.agent,
          signal: o.signal,
        });
        let timer: NodeJS.Timeout | undefined;
        if (timeout !== undefined) {
          timer = setTimeout(() => {
            req.destroy(new Unavailable('the cluster API did not answer in time'));
          }, timeout);
        }
        req.once('response', (res) => {
          clearTimeout(timer);
          resolve(res);
        });
        req.once('error', (err) => {
          clearTimeout(timer);
          if (err instanceof AppError || (err as { name?: string }).name === 'AbortError') {
            reject(err);
            return;
          }
          const unreachable = new Unavailable('the cluster API is unreachable', { cause: err });
          const code = (err as NodeJS.ErrnoException).code;
          const stale = req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
          reject(stale ? new StaleSocket(unreachable) : unreachable);
        });
        req.end(body);
      }),
  );
}

async function failure(res: IncomingMessage, what: string): Promise<KubeApiError> {
  const text = await readBody(res, 1024 * 1024).catch(() => '');
  return new KubeApiError(res.statusCode ?? 0, parseStatus(text), what);
}

async function openWebSocket(
  { kc, base, secure, basePath }: ApiServer,
  path: string,
  query: Query,
  protocols: readonly string[],
  timeoutMs: number,
  headers: Readonly<Record<string, string>> | undefined,
): Promise<WebSocket> {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  if (headers) opts.headers = { ...opts.headers, ...headers };
  const scheme = secure ? 'wss' : 'ws';
  const url = `${scheme}://${base.host}${basePath}${path}${queryString(query)}`;
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, [...protocols], {
      ...(opts as WebSocket.ClientOptions),
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
    });
    const onError = (err: Error) => {
      ws.removeListener('open', onOpen);
      reject(new Unavailable('the cluster API is unreachable', { cause: err }));
    };
    const onOpen = () => {
      ws.removeListener('error', onError);
      ws.removeAllListeners('unexpected-response');
      resolve(ws);
    };
    ws.once('open', onOpen);
    ws.once('error', onError);
    ws.once('unexpected-response', (_req, res) => {
      ws.removeListener('error', onError);
      ws.removeListener('open', onOpen);
      // Swallow the error ws emits when the request is aborted below.
      ws.on('error', () => undefined);
      failure(res, `exec ${path}`).then(reject, reject);
      _req.destroy();
    });
  });
}

/** Maps an API failure to what a user may see; other errors pass through unchanged. */
export function toAppError(err: unknown, what: string): unknown {
  if (!(err instanceof KubeApiError)) return err;
  const message = err.message;
  switch (err.code) {
    case 400:
      return new BadRequest(`${what}: ${err.status?.message ?? 'refused by the cluster'}`, {
        cause: err,
        message,
      });
    case 401:
      return new Unauthenticated(`${what}: the platform's cluster credentials were refused`, {
        cause: err,
        message,
      });
    case 403:
      return new AccessDenied(`${what}: the platform is not allowed to do this in the cluster`, {
        cause: err,
        message,
      });
    case 404:
      return new NotFound(`${what}: not found`, { cause: err, message });
    case 409:
      return new Conflict(`${what}: changed meanwhile, try again`, { cause: err, message });
    case 429:
    case 500:
    case 503:
    case 504:
      return new Unavailable(`${what}: the cluster is busy or unavailable, try again`, {
        cause: err,
        message,
      });
    default:
      return new Unavailable(`${what}: the cluster refused the request`, { cause: err, message });
  }
}

export function isApiError(err: unknown, code: number): err is KubeApiError {
  return err instanceof KubeApiError && err.code === code;
}
