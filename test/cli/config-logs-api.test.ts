/**
 * The keys-service endpoints of issue 5 over real HTTPS (config vars with ETag/If-Match, log
 * streaming as text and NDJSON), and `neetodeploy logs` against them with a running app.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { ALICE, BOB, TICKER_PROCFILE, fakeIo, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';
import { waitUntil } from '../support/wait.js';

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z app\[web\.\d+\]: tick \d+$/;

describe('keys-service config vars and logs endpoints, and `neetodeploy logs`', function () {
  let env: CliEnv;
  let alice: string;
  let bob: string;

  before(async function () {
    env = await startCliEnv({ runProcesses: true, extraApps: { ticker: TICKER_PROCFILE } });
    await env.platform.rescan();
    alice = await env.ks.token(ALICE);
    bob = await env.ks.token(BOB);
    // Enough lines for the tail tests.
    await waitUntil(
      'ten ticker lines in the logs API',
      async () => {
        const res = await env.ks.client.request('/api/v1/apps/ticker/logs?tail=10', {
          token: alice,
        });
        return (
          res.status === 200 && res.text.split('\n').filter((l) => / tick /.test(l)).length >= 10
        );
      },
      8000,
    );
  });

  after(async function () {
    await env?.dispose();
  });

  describe('GET/PATCH /api/v1/apps/:app/config', function () {
    it('returns vars and a version as ETag; If-Match on a stale version is 409 and changes nothing', async function () {
      const first = await env.ks.client.request('/api/v1/apps/demo/config', { token: alice });
      assert.equal(first.status, 200);
      const version = first.json.version as string;
      assert.equal(first.headers.etag, `"${version}"`);

      const ok = await env.ks.client.request('/api/v1/apps/demo/config', {
        method: 'PATCH',
        token: alice,
        body: { set: { A: '1', B: '2' }, restart: false },
        headers: { 'if-match': `"${version}"` },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual({ A: ok.json.vars.A, B: ok.json.vars.B }, { A: '1', B: '2' });
      assert.notEqual(ok.json.version, version);

      const stale = await env.ks.client.request('/api/v1/apps/demo/config', {
        method: 'PATCH',
        token: alice,
        body: { set: { A: 'lost' }, unset: ['B'], restart: false },
        headers: { 'if-match': `"${version}"` },
      });
      assert.equal(stale.status, 409);
      assert.equal(typeof stale.json.error.message, 'string');
      const now = await env.ks.client.request('/api/v1/apps/demo/config', { token: alice });
      assert.equal(now.json.vars.A, '1');
      assert.equal(now.json.vars.B, '2');

      const both = await env.ks.client.request('/api/v1/apps/demo/config', {
        method: 'PATCH',
        token: alice,
        body: { set: { A: '3' }, unset: ['B'], restart: false },
        headers: { 'if-match': now.headers.etag as string },
      });
      assert.equal(both.status, 200);
      assert.equal(both.json.vars.A, '3');
      assert.equal('B' in both.json.vars, false);
    });

    it('validates names and sizes, and checks permissions', async function () {
      const patch = (body: unknown, token = alice) =>
        env.ks.client.request('/api/v1/apps/demo/config', { method: 'PATCH', token, body });
      assert.equal((await patch({ set: { '1BAD': 'x' } })).status, 400);
      assert.equal((await patch({ set: { 'A-B': 'x' } })).status, 400);
      assert.equal((await patch({ set: { OK: 'x'.repeat(32 * 1024 + 1) } })).status, 400);
      assert.equal((await patch({ set: { OK: 'a\0b' } })).status, 400);
      assert.equal((await patch({ set: {}, unset: [] })).status, 400);
      assert.equal((await patch({ set: { A: 1 } })).status, 400);
      assert.equal((await patch({ set: { A: 'x' }, unset: ['A'] })).status, 400);
      assert.equal((await patch({ set: { A: 'x' }, extra: true })).status, 400);
      const denied = await patch({ set: { A: 'x' } }, bob);
      assert.equal(denied.status, 403);
      assert.equal(
        (await env.ks.client.request('/api/v1/apps/demo/config', { token: bob })).status,
        403,
      );
      assert.equal((await env.ks.client.request('/api/v1/apps/demo/config')).status, 401);
      assert.equal(
        (
          await env.ks.client.request('/api/v1/apps/demo/config', {
            method: 'PATCH',
            body: { set: { A: 'x' } },
          })
        ).status,
        401,
      );
      assert.equal(
        (await env.ks.client.request('/api/v1/apps/nosuch/config', { token: alice })).status,
        404,
      );
      assert.equal(
        (await env.ks.client.request('/api/v1/apps/Bad_Name/config', { token: alice })).status,
        400,
      );
    });
  });

  describe('GET /api/v1/apps/:app/logs', function () {
    it('sends the last N lines Heroku-style, or NDJSON when asked', async function () {
      const text = await env.ks.client.request('/api/v1/apps/ticker/logs?tail=5', { token: alice });
      assert.equal(text.status, 200);
      assert.match(String(text.headers['content-type']), /^text\/plain/);
      const lines = text.text.trimEnd().split('\n');
      assert.equal(lines.length, 5);
      for (const l of lines) assert.match(l, LINE);

      const nd = await env.ks.client.request('/api/v1/apps/ticker/logs?tail=3&process=web', {
        token: alice,
        headers: { accept: 'application/x-ndjson' },
      });
      assert.match(String(nd.headers['content-type']), /^application\/x-ndjson/);
      const objects = nd.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>);
      assert.equal(objects.length, 3);
      for (const o of objects) {
        assert.equal(o.source, 'app');
        assert.match(o.process ?? '', /^web\.\d+$/);
        assert.match(o.line ?? '', /^tick \d+$/);
        assert.ok(!Number.isNaN(Date.parse(o.time ?? '')));
      }
      const times = objects.map((o) => Date.parse(o.time ?? ''));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        'in time order',
      );
    });

    it('refuses bad parameters and callers without the logs permission', async function () {
      const get = (q: string, token: string | null = alice) =>
        env.ks.client.request(`/api/v1/apps/ticker/logs${q}`, token !== null ? { token } : {});
      assert.equal((await get('?tail=-1')).status, 400);
      assert.equal((await get('?tail=100001')).status, 400);
      assert.equal((await get('?since=yesterday')).status, 400);
      assert.equal((await get('?process=worker')).status, 400);
      assert.equal((await get('?bogus=1')).status, 400);
      assert.equal((await get('', bob)).status, 403);
      assert.equal((await get('', null)).status, 401);
      const since = await get('?since=1h&tail=2');
      assert.equal(since.status, 200);
      assert.equal(since.text.trimEnd().split('\n').length, 2);
    });

    it('follows new lines and stops when the client goes away', async function () {
      const url = new URL('/api/v1/apps/ticker/logs?tail=0&follow=true', env.apiUrl);
      const received: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const req = https.get(
          url,
          { ca: env.ks.ca, headers: { authorization: `Bearer ${alice}` } },
          (res) => {
            assert.equal(res.statusCode, 200);
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              received.push(...chunk.split('\n').filter((l) => l !== ''));
              if (received.length >= 3) {
                req.destroy();
                resolve();
              }
            });
          },
        );
        req.on('error', (err) => (received.length >= 3 ? resolve() : reject(err)));
      });
      for (const l of received) assert.match(l, LINE);
      // The server notices the close and keeps serving others.
      const after = await env.ks.client.request('/api/v1/apps/ticker/logs?tail=1', {
        token: alice,
      });
      assert.equal(after.status, 200);
    });
  });

  describe('neetodeploy logs', function () {
    it('-n N prints N lines; --json prints objects', async function () {
      const config = env.config('logs-n');
      await env.loginAs(config, ALICE);
      const { io } = await env.run(config, ['logs', '-a', 'ticker', '-n', '5']);
      const lines = io.out().trimEnd().split('\n');
      assert.equal(lines.length, 5);
      for (const l of lines) assert.match(l, LINE);
      const json = await env.run(config, [
        'logs',
        '-a',
        'ticker',
        '-n',
        '2',
        '--json',
        '-p',
        'web',
      ]);
      const objects = json.io
        .out()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { line: string });
      assert.equal(objects.length, 2);
      assert.match(objects[0]?.line ?? '', /^tick \d+$/);
    });

    it('--tail receives lines written after it started, and Ctrl-C ends it with exit code 0', async function () {
      const config = env.config('logs-tail');
      await env.loginAs(config, ALICE);
      const io = fakeIo();
      const started = Date.now();
      const running = env.run(config, ['logs', '-a', 'ticker', '--tail', '-n', '0'], io);
      await waitUntil(
        'three lines from logs --tail',
        () =>
          io
            .out()
            .split('\n')
            .filter((l) => l !== '').length >= 3,
        8000,
      );
      io.interrupt();
      const { code } = await running;
      assert.equal(code, 0);
      const lines = io.out().trimEnd().split('\n');
      for (const l of lines) {
        assert.match(l, LINE);
        assert.ok(
          Date.parse(l.slice(0, 24)) >= started - 1000,
          'a line written after the command started',
        );
      }
    });

    it('an unknown app lists the apps you can use', async function () {
      const config = env.config('logs-unknown');
      await env.loginAs(config, ALICE);
      await assert.rejects(
        env.run(config, ['logs', '-a', 'nope']),
        /unknown app nope.*Apps you can use: demo, ticker/,
      );
    });
  });
});
