import assert from 'node:assert/strict';
import net from 'node:net';
import { ssh } from '../support/ssh-client.js';
import { startHarness, type Harness } from './harness.js';

describe('bastion under hostile load', function () {
  this.timeout(30_000);
  let h: Harness;
  let config: string;

  before(async () => {
    h = await startHarness();
    ({ config } = await h.user('legit', {}));
  });
  after(async () => {
    await h?.close();
  });

  it('500 sockets that never speak do not lock out a real user (< 2 s to run a command)', async () => {
    const sockets: net.Socket[] = [];
    try {
      // From 50 source addresses (10 each), so the per-IP cap alone cannot absorb them.
      await Promise.all(
        Array.from(
          { length: 500 },
          (_, i) =>
            new Promise<void>((resolve) => {
              const s = net.connect({
                host: '127.0.0.1',
                port: h.address.port,
                localAddress: `127.0.0.${2 + (i % 50)}`,
              });
              s.on('error', () => resolve());
              s.on('connect', () => resolve());
              s.on('close', () => resolve());
              sockets.push(s);
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(
        h.bastion.unauthenticated() <= 100,
        `unauthenticated: ${h.bastion.unauthenticated()}`,
      );
      const started = Date.now();
      const r = await ssh(config, ['bastion', 'echo ok'], { timeoutMs: 5000 });
      const elapsed = Date.now() - started;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), 'ok\n');
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
      // Through the jump too (its inner connection is not a pre-auth TCP client).
      const j = await ssh(config, ['demo.neetodeploy', 'echo ok'], { timeoutMs: 5000 });
      assert.equal(j.code, 0, j.stderr);
      const text = await h.bastion.metrics.registry.metrics();
      assert.match(
        text,
        /limit_rejections_total\{limit="(max-startups-evicted-silent|per-ip-unauthenticated|max-startups-full)"\} [1-9]/,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('a client that never authenticates is dropped at the deadline', async () => {
    const g = await startHarness({ config: () => ({ limits: { authTimeoutMs: 1000 } }) });
    try {
      const s = net.connect(g.address.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.resume();
      const closedAfter = await new Promise<number>((resolve) => {
        const t0 = Date.now();
        s.on('close', () => resolve(Date.now() - t0));
      });
      assert.ok(closedAfter >= 250 && closedAfter < 2000, `closed after ${closedAfter} ms`);
      assert.match(
        await g.bastion.metrics.registry.metrics(),
        /limit_rejections_total\{limit="auth-timeout"\} 1/,
      );
    } finally {
      await g.close();
    }
  });
});
