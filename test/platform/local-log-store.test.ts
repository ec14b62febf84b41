/**
 * The local platform's log files: rotation within the size bound, long lines cut, and followers
 * that see every line once across rotations.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '@neetodeploy/platform';
import { within } from '../support/platform-conformance.js';
import { logLines, tempDataDir, useLocalPlatforms, writeApp } from './local-harness.js';

describe('local platform', function () {
  this.timeout(20_000);
  const { make, dispose } = useLocalPlatforms();

  describe('logs on disk', () => {
    it('rotates per-process files within the size bound and cuts long lines', async () => {
      const dataDir = tempDataDir();
      try {
        const appDir = writeApp(
          dataDir,
          'noisy',
          [
            'web: while [ ! -f go ]; do sleep 0.05; done;',
            // Bursts of 50 lines (1.3 KB), so a follower keeps up across the ~20 rotations.
            'i=0; while [ $i -lt 2000 ]; do echo "line $i of a noisy app"; i=$((i+1));',
            '[ $((i % 50)) -eq 0 ] && sleep 0.03; done;',
            "head -c 40000 /dev/zero | tr '\\0' x; echo; echo last; exec sleep 1000",
          ].join(' '),
        );
        const platform = await make(dataDir, {
          limits: { maxLogFileBytes: 32_768, maxLogLineBytes: 1024, logPollMs: 20 },
        });
        const controller = new AbortController();
        const followed: LogLine[] = [];
        const following = (async () => {
          for await (const line of platform.streamLogs('noisy', {
            tail: 0,
            follow: true,
            signal: controller.signal,
          })) {
            if (line.source === 'app') followed.push(line);
            if (line.line === 'last') controller.abort();
          }
        })();
        await sleep(100);
        fs.writeFileSync(path.join(appDir, 'go'), '');
        await within(10_000, following, 'following the noisy app to its last line');

        const logDir = path.join(dataDir, 'logs', 'noisy');
        const files = fs.readdirSync(logDir).sort();
        assert.deepEqual(files, ['web.1.log', 'web.1.log.1']);
        for (const file of files) {
          const size = fs.statSync(path.join(logDir, file)).size;
          assert.ok(size <= 32_768, `${file} is ${size} bytes`);
        }
        const tail = await logLines(platform, 'noisy', 3);
        assert.deepEqual(
          tail.map((l) => l.line.slice(0, 20)),
          ['line 1999 of a noisy', `${'x'.repeat(20)}`, 'last'],
        );
        assert.match(tail[1]!.line, /^x{1024} \[line truncated\]$/);

        // A follower got every line once, in order, across the rotations.
        const numbers = followed
          .map((l) => /^line (\d+) /.exec(l.line)?.[1])
          .filter((n): n is string => n !== undefined)
          .map(Number);
        assert.deepEqual(
          numbers,
          Array.from({ length: 2000 }, (_, i) => i),
        );
      } finally {
        await dispose(dataDir);
      }
    });
  });
});
