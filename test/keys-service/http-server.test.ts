/**
 * The keys-service's HTTP server builds each request and response with the express app's own
 * prototypes, so express does not re-parent them per request. That re-parenting kept most of a
 * request's allocations alive through the next scavenge in V8; at c=16 it cost more than half
 * the server's CPU per certificate and set its p99 (issue 11, docs/benchmarks.md).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { closeServer, createHttpServer } from '../../keys-service/src/http/server.js';
import { ROOT, SOURCE_NODE_ARGS } from '../support/paths.js';

/** Mean bytes promoted per scavenge between the probe's load markers, from --trace-gc-nvp. */
async function promotedPerScavenge(server: 'keys-service' | 'plain'): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--trace-gc-nvp', ...SOURCE_NODE_ARGS, 'test/support/express-gc-probe.ts', server],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `the probe exited with ${code}`);
  const load = out.split('probe: load starts\n')[1]?.split('probe: load ends\n')[0] ?? '';
  const promoted = [...load.matchAll(/ gc=s .*? promoted=(\d+) /g)].map((m) => Number(m[1]));
  assert.ok(promoted.length >= 5, `too few scavenges under load to judge: ${promoted.length}`);
  return promoted.reduce((a, b) => a + b, 0) / promoted.length;
}

describe('keys-service HTTP server', function () {
  this.timeout(60_000);

  it('hands express requests and responses that already have the app prototypes', async () => {
    const app = express();
    app.get('/hello', (_req, res) => {
      res.status(201).json({ hello: 'world' });
    });
    const srv = createHttpServer(app, undefined);
    const born: boolean[] = [];
    // Runs before express's own listener, so it sees the objects as the server made them.
    srv.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      born.push(
        Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response,
        req instanceof http.IncomingMessage && res instanceof http.ServerResponse,
      );
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = srv.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/hello`);
      assert.equal(res.status, 201);
      assert.deepEqual(await res.json(), { hello: 'world' });
      assert.deepEqual(born, [true, true]);
    } finally {
      await closeServer(srv);
    }
  });

  it('promotes almost nothing per scavenge under keep-alive load, where express alone does', async () => {
    const ours = await promotedPerScavenge('keys-service');
    const plain = await promotedPerScavenge('plain');
    const kb = (n: number): string => `${Math.round(n / 1024)} KB`;
    assert.ok(
      ours < 256 * 1024,
      `the keys-service server promoted ${kb(ours)} per scavenge (express on node:http: ${kb(plain)})`,
    );
  });
});
