/**
 * close() of the local platform leaves nothing running.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCommand, waitForOutput, within } from '../support/platform-conformance.js';
import { gone, open, tempDataDir, useLocalPlatforms, writeApp } from './local-harness.js';
import { waitForValue } from '../support/wait.js';

describe('local platform', function () {
  this.timeout(20_000);
  const { make, dispose } = useLocalPlatforms();

  describe('close()', () => {
    it('stops every app process and console, KILLing what ignores TERM', async () => {
      const dataDir = tempDataDir();
      try {
        const appDir = writeApp(
          dataDir,
          'stubborn',
          [
            "web: trap '' TERM; echo $$ > web.pid; while :; do sleep 0.1; done",
            'worker: sleep 1000 & echo $! > child.pid; echo $$ > worker.pid; wait',
            '',
          ].join('\n'),
        );
        const platform = await make(dataDir, { limits: { stopGraceMs: 300 } });
        const pidOf = (file: string) =>
          waitForValue(
            file,
            () => {
              const text = fs.existsSync(path.join(appDir, file))
                ? fs.readFileSync(path.join(appDir, file), 'utf8').trim()
                : '';
              return text ? Number(text) : undefined;
            },
            5000,
          );
        const pids = [await pidOf('web.pid'), await pidOf('worker.pid'), await pidOf('child.pid')];
        const console = await open(platform, 'stubborn', { command: 'echo $$; exec sleep 1000' });
        const consolePid = Number((await waitForOutput(console.stdout, /\d+\n/)).trim());
        const pty = await open(platform, 'stubborn', {
          pty: { term: 'xterm', cols: 80, rows: 24 },
        });
        pty.stdout.resume();
        pids.push(consolePid);
        for (const pid of pids) assert.ok(!gone(pid), `${pid} runs`);

        const started = Date.now();
        await platform.close();
        assert.ok(Date.now() - started < 3000, `close took ${Date.now() - started} ms`);
        for (const pid of [...pids, Number(pty.where.slice('local:'.length))]) {
          assert.ok(gone(pid), `${pid} is gone`);
        }
        assert.deepEqual(await within(1000, console.done, 'console done'), { signal: 'TERM' });
        await platform.close(); // idempotent
        await assert.rejects(runCommand(platform, 'stubborn', 'true'));
      } finally {
        await dispose(dataDir);
      }
    });
  });
});
