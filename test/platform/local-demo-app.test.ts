/**
 * The demo app the local platform makes on a data dir's first start.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runTarget, tempDataDir, useLocalPlatforms, waitForLog } from './local-harness.js';
import { waitForValue } from '../support/wait.js';

describe('local platform', function () {
  this.timeout(20_000);
  const { make, dispose } = useLocalPlatforms();

  describe('demo app', () => {
    it('is created on first start, answers HTTP, logs requests and heartbeats', async function () {
      this.timeout(30_000);
      const dataDir = tempDataDir();
      try {
        const platform = await make(dataDir, { createDemoApp: true });
        assert.deepEqual(await platform.listApps(), [{ name: 'demo', processTypes: ['web'] }]);
        const port = await waitForValue(
          'the demo port',
          async () => {
            const value = await runTarget(
              platform,
              'demo',
              { process: 'web' },
              'printf %s "$PORT"',
            );
            return /^\d+$/.test(value) ? Number(value) : undefined;
          },
          5000,
        );
        const body = await waitForValue(
          'an HTTP answer',
          async () => {
            try {
              const response = await fetch(`http://127.0.0.1:${port}/hello`);
              return response.status === 200 ? await response.text() : undefined;
            } catch {
              return undefined;
            }
          },
          5000,
        );
        assert.equal(body, 'Hello from the neetodeploy demo app (web.1)\n');
        await waitForLog(platform, 'demo', /^method=GET path="\/hello" status=200/);

        await platform.updateConfigVars('demo', {
          set: { GREETING: 'Hi there', HEARTBEAT_INTERVAL_MS: '150' },
        });
        await waitForLog(platform, 'demo', /^heartbeat uptime=\d+s requests=0$/);
        const greeted = await waitForValue(
          'the new greeting',
          async () => {
            try {
              return await (await fetch(`http://127.0.0.1:${port}/`)).text();
            } catch {
              return undefined;
            }
          },
          5000,
        );
        assert.equal(greeted, 'Hi there (web.1)\n');
        await platform.close();

        // Removed on purpose: a later start respects that.
        fs.rmSync(path.join(dataDir, 'apps', 'demo'), { recursive: true });
        const again = await make(dataDir, { createDemoApp: true, runProcesses: false });
        assert.deepEqual(await again.listApps(), []);
      } finally {
        await dispose(dataDir);
      }
    });
  });
});
