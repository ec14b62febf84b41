import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

  it('500 sockets that never speak do not lock out a real user (< 2 s to run a command, or 4x unloaded)', async () => {
    const sockets: net.Socket[] = [];
    // The build machine's cores are shared: the bound is relative to the same command unloaded.
    const t0 = Date.now();
    assert.equal((await ssh(config, ['bastion', 'echo ok'], { timeoutMs: 10_000 })).code, 0);
    const unloaded = Date.now() - t0;
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
      const bound = Math.max(2000, 4 * unloaded);
      assert.ok(elapsed < bound, `took ${elapsed} ms (bound ${bound} ms, unloaded ${unloaded} ms)`);
      // Through the jump too (its inner connection is not a pre-auth TCP client).
      const j = await ssh(config, ['demo.neetodeploy', 'echo ok'], { timeoutMs: 5000 });
      assert.equal(j.code, 0, j.stderr);
      const text = await h.bastion.metrics.registry.metrics();
      assert.match(
        text,
        /limit_rejections_total\{limit="(max-startups-evicted|per-ip-unauthenticated|max-startups-full)"\} [1-9]/,
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
      assert.ok(closedAfter >= 900 && closedAfter < 4000, `closed after ${closedAfter} ms`);
      assert.match(
        await g.bastion.metrics.registry.metrics(),
        /limit_rejections_total\{limit="auth-timeout"\} 1/,
      );
      // Behind the jump too: a virtual-host connection that never authenticates is closed.
      const { config: cfg } = await g.user('silent', {});
      const t0 = Date.now();
      // stdin stays open (and silent): the inner server sends its banner and waits.
      const w = spawn('ssh', ['-F', cfg, '-W', 'demo.neetodeploy:22', 'bastion'], {
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      let banner = '';
      w.stdout.on('data', (c: Buffer) => (banner += c.toString('latin1')));
      const killer = setTimeout(() => w.kill(), 8000);
      await new Promise((r) => w.once('close', r));
      clearTimeout(killer);
      const took = Date.now() - t0;
      assert.match(banner, /^SSH-2\.0-/);
      assert.ok(took >= 900 && took < 6000, `jump channel closed after ${took} ms`);
      assert.match(
        await g.bastion.metrics.registry.metrics(),
        /limit_rejections_total\{limit="auth-timeout"\} 2/,
      );
    } finally {
      await g.close();
    }
  });
});
