/** The node:http(s) server around the express app: timeouts, listening, the bound URL. */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Express } from 'express';
import type { TlsMaterial } from '../tls/index.js';
import { appMessageClasses } from './app-messages.js';

export type HttpServer = http.Server | https.Server;

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
  readonly url: string;
}

export function createHttpServer(app: Express, tls: TlsMaterial | undefined): HttpServer {
  const classes = appMessageClasses(app);
  const srv = tls
    ? https.createServer({ key: tls.key, cert: tls.cert, ...classes }, app)
    : http.createServer(classes, app);
  srv.headersTimeout = 15_000;
  srv.requestTimeout = 30_000;
  // Answers are small and written at once: Nagle would only hold them back.
  srv.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
  });
  return srv;
}

/** Listens (port 0 works) and says where, as a URL clients can use. */
export async function listen(
  srv: HttpServer,
  where: { readonly host: string; readonly port: number },
): Promise<BoundAddress> {
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(where.port, where.host, () => {
      srv.off('error', reject);
      resolve();
    });
  });
  const addr = srv.address() as AddressInfo;
  const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const scheme = srv instanceof https.Server ? 'https' : 'http';
  return { host, port: addr.port, url: `${scheme}://${hostPart}:${addr.port}` };
}

/** Closes the server: idle connections now, in-flight requests after a short grace. */
export async function closeServer(srv: HttpServer, graceMs = 2000): Promise<void> {
  const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
  srv.closeIdleConnections();
  const grace = setTimeout(() => srv.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(grace);
}
