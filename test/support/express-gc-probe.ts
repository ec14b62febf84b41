/**
 * Child process for test/keys-service/http-server.test.ts: serves a small express app on
 * 127.0.0.1, sends it REQUESTS keep-alive requests from 16 connections, and exits. Run with
 * `--trace-gc-nvp` so the parent can read how much each scavenge promoted while it served.
 * `--server keys-service` uses the keys-service's own server; `--server plain` node:http's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHttpServer } from '../../keys-service/src/http/server.js';

const REQUESTS = 20_000;
const CONCURRENCY = 16;

const app = express();
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
const server = process.argv.includes('plain')
  ? http.createServer(app)
  : createHttpServer(app, undefined);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

const get = (): Promise<void> =>
  new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });

let sent = 0;
// Marks the start of the measured part in the GC trace on stdout.
process.stdout.write('probe: load starts\n');
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (sent++ < REQUESTS) await get();
  }),
);
process.stdout.write('probe: load ends\n');
agent.destroy();
server.close();
