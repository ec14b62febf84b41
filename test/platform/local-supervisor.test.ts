/**
 * The supervisor of the local platform: Procfile processes with PORT and config vars, consoles
 * beside them, restarts on config changes and crashes, and one process per data dir running the
 * apps.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NotFound,
  createLocalPlatform,
  type LocalPlatform,
  type LogLine,
} from '@neetodeploy/platform';
import { SOURCE_NODE_ARGS } from '../support/paths.js';
import { waitForOutput, within } from '../support/platform-conformance.js';
import {
  gone,
  logLines,
  open,
  runTarget,
  silent,
  startedAtOf,
  tempDataDir,
  useLocalPlatforms,
  waitForLog,
  writeApp,
} from './local-harness.js';
import { waitForValue, waitUntil } from '../support/wait.js';

describe('local platform', function () {
  this.timeout(20_000);
  const { make, dispose } = useLocalPlatforms();

  describe('Procfile processes', () => {
    const dataDir = tempDataDir();
    let platform: LocalPlatform;
    after(async () => {
      await platform?.close();
      await dispose(dataDir);
    });

    before(async () => {
      writeApp(
        dataDir,
        'svc',
        [
          '# a comment, then two process types',
          'web: echo "web port=$PORT var=$MY_VAR dyno=$DYNO"; exec sleep 1000',
          'worker: echo "worker started"; echo "to stderr" >&2; exec sleep 1000',
          '',
        ].join('\n'),
      );
      // Config vars set before the processes start (by a platform that does not run them).
      const admin = await createLocalPlatform(
        { dataDir, runProcesses: false, createDemoApp: false },
        { logger: silent },
      );
      await admin.updateConfigVars('svc', { set: { MY_VAR: 'one' } });
      await admin.close();
      platform = await make(dataDir);
    });

    it('starts each process type with PORT and config vars, capturing stdout and stderr', async () => {
      const processes = await platform.listProcesses('svc');
      assert.deepEqual(
        processes.map((p) => [p.name, p.type, p.state]),
        [
          ['web.1', 'web', 'running'],
          ['worker.1', 'worker', 'running'],
        ],
      );
      const web = await waitForLog(platform, 'svc', /^web port=\d+ var=one dyno=web\.1$/);
      assert.equal(web.process, 'web.1');
      assert.equal(web.source, 'app');
      const stderrLine = await waitForLog(platform, 'svc', /^to stderr$/);
      assert.equal(stderrLine.process, 'worker.1');
      const lines = await logLines(platform, 'svc');
      assert.ok(
        lines.some((l) => l.source === 'neetodeploy' && /^Starting process/.test(l.line)),
        'platform lines are in the log',
      );
      const onlyWorker = await logLines(platform, 'svc');
      assert.ok(onlyWorker.length > 0);
      for await (const line of platform.streamLogs('svc', { process: 'worker', tail: 100 })) {
        assert.equal(line.process, 'worker.1');
      }
    });

    it('runs a console beside a running instance with its environment', async () => {
      const port = /port=(\d+)/.exec((await waitForLog(platform, 'svc', /^web port=/)).line)?.[1];
      const console = await open(platform, 'svc', {
        command: 'printf "%s %s %s %s" "$DYNO" "$PORT" "$MY_VAR" "$(pwd)"',
        target: { pod: 'web.1' },
      });
      const out = waitForOutput(console.stdout, /web\.1 \d+ one \//);
      console.stdin.end();
      console.stderr.resume();
      assert.equal(
        await out,
        `web.1 ${port} one ${fs.realpathSync(path.join(dataDir, 'apps', 'svc'))}`,
      );
      assert.deepEqual(await console.done, { code: 0 });

      const byType = await runTarget(platform, 'svc', { process: 'worker' }, 'printf %s "$DYNO"');
      assert.equal(byType, 'worker.1');
      await assert.rejects(
        open(platform, 'svc', { command: 'true', target: { pod: 'web.9' } }),
        NotFound,
      );
      await assert.rejects(
        open(platform, 'svc', { command: 'true', target: { process: 'nope' } }),
        NotFound,
      );
    });

    it('shares process state with a platform in another role on the same data dir', async () => {
      const bastionOnly = await createLocalPlatform(
        { dataDir, runProcesses: false, createDemoApp: false },
        { logger: silent },
      );
      try {
        const processes = await bastionOnly.listProcesses('svc');
        assert.deepEqual(
          processes.map((p) => [p.name, p.state]),
          [
            ['web.1', 'running'],
            ['worker.1', 'running'],
          ],
        );
        const env = await runTarget(bastionOnly, 'svc', { pod: 'web.1' }, 'printf %s "$MY_VAR"');
        assert.equal(env, 'one');
      } finally {
        await bastionOnly.close();
      }
      // Closing a platform that does not run the processes leaves them running.
      assert.equal((await platform.listProcesses('svc'))[0]?.state, 'running');
    });

    it('restarts the processes on a config change, unless restart is false', async () => {
      const before = await startedAtOf(platform, 'svc', 'web.1');
      const port = /port=(\d+)/.exec((await waitForLog(platform, 'svc', /^web port=/)).line)?.[1];
      await platform.updateConfigVars('svc', { set: { MY_VAR: 'quiet' } }, { restart: false });
      assert.equal(await startedAtOf(platform, 'svc', 'web.1'), before);

      await platform.updateConfigVars('svc', { set: { MY_VAR: 'two' } });
      assert.ok((await startedAtOf(platform, 'svc', 'web.1')) > before, 'web.1 restarted');
      const line = await waitForLog(platform, 'svc', /^web port=\d+ var=two /);
      assert.equal(/port=(\d+)/.exec(line.line)?.[1], port, 'the port survives a restart');
      const lines = await logLines(platform, 'svc');
      const api = lines.find((l) => l.process === 'api' && /Set MY_VAR config vars/.test(l.line));
      assert.equal(api?.source, 'neetodeploy');
      assert.ok(
        lines.some(
          (l) =>
            l.process === 'web.1' &&
            l.source === 'neetodeploy' &&
            l.line === 'Restarting (config vars changed)',
        ),
        'a platform line says why web.1 restarted',
      );
      assert.ok(!lines.some((l) => /var=quiet/.test(l.line)), 'restart: false did not restart');
    });

    it('leaves no timers or handles behind after a follower ends', async () => {
      const resources = () =>
        process
          .getActiveResourcesInfo()
          .filter((r) => r !== 'TTYWrap')
          .sort()
          .join(',');
      await sleep(50);
      const before = resources();
      for (const stop of ['abort', 'break'] as const) {
        const controller = new AbortController();
        let count = 0;
        for await (const _line of platform.streamLogs('svc', {
          tail: 2,
          follow: true,
          signal: controller.signal,
        })) {
          count++;
          if (count === 2) {
            if (stop === 'break') break;
            setTimeout(() => controller.abort(), 120);
          }
        }
        assert.ok(count >= 2);
      }
      // Transient work (a periodic app scan) may be in flight; a leak stays.
      await waitUntil('the same resources as before', () => resources() === before, 2000).catch(
        () => assert.equal(resources(), before),
      );
    });

    it('follows lines of a process type added to the Procfile', async () => {
      const controller = new AbortController();
      const seen: LogLine[] = [];
      const following = (async () => {
        for await (const line of platform.streamLogs('svc', {
          tail: 0,
          follow: true,
          signal: controller.signal,
        })) {
          seen.push(line);
          if (line.line === 'extra started') controller.abort();
        }
      })();
      await sleep(100);
      fs.appendFileSync(
        path.join(dataDir, 'apps', 'svc', 'Procfile'),
        'extra: echo "extra started"; exec sleep 1000\n',
      );
      await platform.rescan();
      await within(5000, following, 'the new process line');
      assert.equal(seen.at(-1)?.process, 'extra.1');
      assert.deepEqual((await platform.getApp('svc')).processTypes, ['web', 'worker', 'extra']);
    });
  });

  describe('crashes', () => {
    it('restarts a crashed process with a growing backoff, and stops removed apps', async () => {
      const dataDir = tempDataDir();
      try {
        writeApp(dataDir, 'crashy', 'crash: echo boom; exit 3\n');
        const platform = await make(dataDir, {
          limits: { restartBackoffMs: 100, restartBackoffMaxMs: 5000 },
        });
        await sleep(1300);
        const lines = await logLines(platform, 'crashy');
        const starts = lines.filter((l) => l.line === 'boom').length;
        // 0, 100, 300, 700 ms (1500 is past the window): a fixed delay would give 13.
        assert.ok(starts >= 3 && starts <= 5, `${starts} starts in 1.3 s`);
        assert.ok(lines.some((l) => l.line === 'Process exited with status 3'));
        assert.ok(lines.some((l) => /crashed; restarting in 400 ms/.test(l.line)));
        const info = (await platform.listProcesses('crashy'))[0];
        assert.ok(info && ['crashed', 'running', 'starting'].includes(info.state));

        fs.rmSync(path.join(dataDir, 'apps', 'crashy'), { recursive: true });
        await platform.rescan();
        await assert.rejects(platform.listProcesses('crashy'), NotFound);
        const logFile = path.join(dataDir, 'logs', 'crashy', 'crash.1.log');
        const size = fs.statSync(logFile).size;
        await sleep(800);
        assert.equal(fs.statSync(logFile).size, size, 'no restarts after the app was removed');
        assert.ok(!fs.existsSync(path.join(dataDir, 'run', 'crashy.json')));
      } finally {
        await dispose(dataDir);
      }
    });
  });

  describe('one data dir, several processes', () => {
    it('lets only one process run the apps, and stops what a killed one left running', async function () {
      this.timeout(30_000);
      const dataDir = tempDataDir();
      const server = spawn(
        process.execPath,
        [
          ...SOURCE_NODE_ARGS,
          path.join(import.meta.dirname, 'fixtures', 'run-platform.ts'),
          dataDir,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        writeApp(dataDir, 'orphans', 'web: echo $$ > web.pid; exec sleep 1000\n');
        await waitForOutput(server.stdout, /ready/, 20_000);
        await assert.rejects(make(dataDir), /another process \(pid \d+\) already runs the apps/);
        const pidFile = path.join(dataDir, 'apps', 'orphans', 'web.pid');
        const oldPid = await waitForValue(
          'web.pid',
          () =>
            fs.existsSync(pidFile)
              ? Number(fs.readFileSync(pidFile, 'utf8')) || undefined
              : undefined,
          5000,
        );
        server.kill('SIGKILL');
        await new Promise((resolve) => server.once('exit', resolve));
        assert.ok(!gone(oldPid), 'the app process outlived its server');

        const platform = await make(dataDir);
        assert.ok(gone(oldPid), 'the orphan was stopped');
        const newPid = await waitForValue(
          'a new web.pid',
          () => {
            const pid = Number(fs.readFileSync(pidFile, 'utf8'));
            return pid && pid !== oldPid ? pid : undefined;
          },
          5000,
        );
        assert.equal((await platform.listProcesses('orphans'))[0]?.state, 'running');
        await platform.close();
        assert.ok(gone(newPid));
      } finally {
        server.kill('SIGKILL');
        await dispose(dataDir);
      }
    });
  });
});
