/**
 * The `demo` app made on a data dir's first start: a Node web process with no dependencies,
 * so a fresh install has something to open a console on, follow logs of and configure.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { EVENTS } from './events.js';
import type { LocalPaths } from './paths.js';

export const DEMO_APP = 'demo';

/** Single-quoted for sh: the node binary path may contain spaces. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function demoProcfile(nodePath: string): string {
  return `web: exec ${shellQuote(nodePath)} server.mjs\n`;
}

export const DEMO_SERVER = `// The demo app of neetodeploy access. GREETING and HEARTBEAT_INTERVAL_MS are config vars.
import http from 'node:http';

const port = Number(process.env.PORT || 5000);
const heartbeatMs = Math.max(100, Number(process.env.HEARTBEAT_INTERVAL_MS || 5000));
const greeting = process.env.GREETING || 'Hello from the neetodeploy demo app';
const startedAt = Date.now();
let requests = 0;

const server = http.createServer((req, res) => {
  const t0 = process.hrtime.bigint();
  requests += 1;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(greeting + ' (' + (process.env.DYNO || 'demo') + ')\\n');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log('method=' + req.method + ' path=' + JSON.stringify(req.url) + ' status=200 ms=' + ms.toFixed(2));
});

server.listen(port, '127.0.0.1', () => {
  console.log('listening on http://127.0.0.1:' + port);
});

const heartbeat = setInterval(() => {
  const uptime = Math.round((Date.now() - startedAt) / 1000);
  console.log('heartbeat uptime=' + uptime + 's requests=' + requests);
}, heartbeatMs);

process.on('SIGTERM', () => {
  console.log('SIGTERM received, shutting down');
  clearInterval(heartbeat);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
`;

/** Writes the demo app into `appDir` (which must not exist yet). */
export async function writeDemoApp(appDir: string, nodePath: string): Promise<void> {
  await fsp.mkdir(appDir, { recursive: true, mode: 0o755 });
  await fsp.writeFile(path.join(appDir, 'server.mjs'), DEMO_SERVER, { mode: 0o644 });
  await fsp.writeFile(path.join(appDir, 'Procfile'), demoProcfile(nodePath), { mode: 0o644 });
}

/**
 * Writes the demo app on the data dir's first use only: a marker records that it was offered,
 * so a user who deleted it does not get it back.
 */
export async function offerDemoApp(
  paths: LocalPaths,
  nodePath: string,
  logger: Logger,
): Promise<void> {
  if (fs.existsSync(paths.demoMarker)) return;
  if (!fs.existsSync(paths.appDir(DEMO_APP))) {
    await writeDemoApp(paths.appDir(DEMO_APP), nodePath);
    logger.info({ app: DEMO_APP }, EVENTS.demoAppCreated);
  }
  await fsp.writeFile(paths.demoMarker, `${new Date().toISOString()}\n`, { mode: 0o600 });
}
