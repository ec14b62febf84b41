import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeKrl, ssh } from '../support/ssh-client.js';
import { waitUntil } from '../support/wait.js';
import { startHarness, type Harness } from './harness.js';

/** A stand-in for the keys-service's `GET /api/v1/ca` with ETag / If-None-Match. */
function caServer() {
  let body: Record<string, unknown> | undefined;
  let version = 0;
  const seen: { status: number; ifNoneMatch?: string }[] = [];
  const server = http.createServer((req, res) => {
    if (req.url !== '/api/v1/ca') {
      res.writeHead(404).end();
      return;
    }
    const etag = `"v${version}"`;
    const inm = req.headers['if-none-match'];
    if (!body) {
      seen.push({ status: 503, ifNoneMatch: inm });
      res.writeHead(503).end();
    } else if (inm === etag) {
      seen.push({ status: 304, ifNoneMatch: inm });
      res.writeHead(304, { etag }).end();
    } else {
      seen.push({ status: 200, ifNoneMatch: inm });
      res.writeHead(200, { etag, 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
  });
  return {
    seen,
    set(b: Record<string, unknown>) {
      body = b;
      version++;
    },
    listen: () =>
      new Promise<number>((r) =>
        server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)),
      ),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('bastion trust polled from the keys-service', function () {
  this.timeout(30_000);
  const ca = caServer();
  let h: Harness;
  let port: number;

  before(async () => {
    port = await ca.listen();
    h = await startHarness({
      metrics: true,
      config: () => ({
        trust: { keysService: { url: `http://127.0.0.1:${port}`, pollIntervalMs: 100 } },
      }),
    });
  });
  after(async () => {
    await h?.close();
    await ca.close();
  });

  it('fails closed until a CA was loaded, then follows KRL and not-before changes with ETags', async () => {
    const alice = await h.user('alice', { serial: 41, keyId: 'alice@example.com:a1' });
    const ready = async () =>
      (await fetch(`http://127.0.0.1:${h.metricsAddress!.port}/readyz`)).status;

    // Nothing loaded yet: not ready, and every certificate is refused with a reason.
    assert.equal(await ready(), 503);
    const closed = await ssh(alice.config, ['bastion', 'true']);
    assert.equal(closed.code, 255);
    assert.match(closed.stderr, /cannot verify certificates right now/);

    const userCa = (await readFile(`${h.userCa.file}.pub`, 'utf8')).trim();
    const base = {
      user_ca_keys: [userCa],
      host_ca_key: h.hostCa.publicKey,
      krl: null,
      not_before: {},
      generated_at: new Date().toISOString(),
    };
    ca.set(base);
    await waitUntil('the bastion ready', async () => (await ready()) === 200, 5000);
    assert.equal((await ssh(alice.config, ['bastion', 'echo in'])).stdout.toString(), 'in\n');

    // Unchanged: the poller sends If-None-Match and gets 304.
    await waitUntil(
      'a 304 to the poll with ETag v1',
      () => ca.seen.some((s) => s.status === 304 && s.ifNoneMatch === '"v1"'),
      5000,
    );

    const krl = await readFile(await makeKrl(h.dir, h.userCa, { serials: [41] }));
    ca.set({ ...base, krl: krl.toString('base64') });
    await waitUntil(
      'a 304 to the poll with ETag v2',
      () => ca.seen.at(-1)?.status === 304 && ca.seen.at(-1)?.ifNoneMatch === '"v2"',
      5000,
    );
    const revoked = await ssh(alice.config, ['bastion', 'true']);
    assert.equal(revoked.code, 255);
    assert.match(revoked.stderr, /revoked/);

    const bob = await h.user('bob', { keyId: 'bob@example.com:b1' });
    assert.equal((await ssh(bob.config, ['bastion', 'true'])).code, 0);
    ca.set({ ...base, not_before: { 'bob@example.com': Math.floor(Date.now() / 1000) + 1 } });
    await waitUntil('a poll with ETag v3', () => ca.seen.at(-1)?.ifNoneMatch === '"v3"', 5000);
    assert.match((await ssh(bob.config, ['bastion', 'true'])).stderr, /revoked/);

    // A broken answer keeps the last good state (bob still revoked, still ready).
    ca.set({ ...base, user_ca_keys: [] });
    const n = ca.seen.length;
    await waitUntil('two polls of the broken answer', () => ca.seen.length >= n + 2, 5000);
    assert.equal(await ready(), 200);
    assert.match((await ssh(bob.config, ['bastion', 'true'])).stderr, /revoked/);
    ca.set({ ...base });
    await waitUntil('a poll with ETag v5', () => ca.seen.at(-1)?.ifNoneMatch === '"v5"', 5000);
    assert.equal((await ssh(bob.config, ['bastion', 'true'])).code, 0);
  });

  it('a KRL published by the keys-service ends a live session within one poll', async () => {
    const userCa = (await readFile(`${h.userCa.file}.pub`, 'utf8')).trim();
    const base = { user_ca_keys: [userCa], krl: null, not_before: {} };
    ca.set(base);
    await waitUntil('a 304 to the poll', () => ca.seen.at(-1)?.status === 304, 5000);
    const carol = await h.user('carol', { serial: 77, keyId: 'carol@example.com:c1' });
    const child = spawn('ssh', ['-F', carol.config, 'bastion', 'sleep 60'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const closed = new Promise<number>((resolve) => child.on('close', () => resolve(Date.now())));
    try {
      await waitUntil('one active session', () => h.bastion.activeSessions() === 1, 20_000);
      const krl = await readFile(await makeKrl(h.dir, h.userCa, { serials: [77] }));
      const at = Date.now();
      ca.set({ ...base, krl: krl.toString('base64') });
      const took = (await closed) - at;
      assert.match(stderr, /certificate has been revoked/);
      // One poll (100 ms) plus the grace sessions get to deliver their exit status.
      assert.ok(took < 100 + 2000 + 3000, `took ${took} ms`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('bastion ends live sessions that lose trust', function () {
  this.timeout(60_000);

  /** `ssh … sleep 60` in the background; resolves with its exit once it ends. */
  function longSession(config: string): {
    done: Promise<{ code: number | null; stderr: string; at: number }>;
  } {
    const child = spawn('ssh', ['-F', config, 'bastion', 'sleep 60'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    return {
      done: new Promise((resolve) =>
        child.on('close', (code) => {
          clearTimeout(killer);
          resolve({ code, stderr, at: Date.now() });
        }),
      ),
    };
  }

  it('a per-user not-before (any case of the e-mail) ends the session within one reload, saying why', async () => {
    const h = await startHarness({
      notBefore: {},
      config: ({ userCaPub, notBefore }) => ({
        trust: {
          static: {
            userCaKeyFiles: [userCaPub],
            notBeforeFile: notBefore,
            reloadIntervalMs: 300,
          },
        },
      }),
    });
    try {
      const alice = await h.user('alice', { keyId: 'alice@example.com:a1' });
      const bob = await h.user('bob', { keyId: 'bob@example.com:b1' });
      const a = longSession(alice.config);
      const b = longSession(bob.config);
      await waitUntil('two active sessions', () => h.bastion.activeSessions() === 2, 20_000);
      const revokedAt = Date.now();
      await writeFile(
        path.join(h.dir, 'not-before.json'),
        JSON.stringify({ 'Alice@Example.COM': Math.floor(revokedAt / 1000) + 1 }),
      );
      const ended = await a.done;
      const took = ended.at - revokedAt;
      console.log(
        `      revoked session closed ${took} ms after the revocation (reload every 300 ms)`,
      );
      assert.match(ended.stderr, /certificate has been revoked/);
      // One reload interval, plus the grace a session gets to deliver its exit status.
      assert.ok(took < 300 + 2000 + 3000, `took ${took} ms`);
      // Bob is untouched.
      assert.equal(h.bastion.activeSessions(), 1);
      assert.match(
        await h.bastion.metrics.registry.metrics(),
        /limit_rejections_total\{limit="trust-revoked"\} 1/,
      );
      await h.close();
      await b.done;
    } finally {
      await h.close();
    }
  });

  it('with disconnectExpiredCertificates, a session ends when its certificate expires', async () => {
    const h = await startHarness({
      config: () => ({ limits: { disconnectExpiredCertificates: true } }),
    });
    try {
      const user = await h.user('short', { validity: '-1m:+6s' });
      const s = longSession(user.config);
      await waitUntil('one active session', () => h.bastion.activeSessions() === 1, 20_000);
      const ended = await s.done;
      assert.match(ended.stderr, /certificate expired/);
    } finally {
      await h.close();
    }
  });
});
