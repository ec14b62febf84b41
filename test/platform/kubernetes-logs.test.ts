/**
 * Logs of the kubernetes platform: pods that start later, container restarts without duplicates,
 * since, and a bounded fan-out.
 */
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  createKubernetesPlatform,
  type KubernetesPlatform,
  type LogLine,
} from '@neetodeploy/platform';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver/index.js';
import { within } from '../support/platform-conformance.js';
import { app, appPod, platformConfig, seedApp, silent, startShop } from './kubernetes-harness.js';
import { waitUntil } from '../support/wait.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

describe('kubernetes platform', function () {
  this.timeout(20_000);
  let fake: FakeApiServer;
  let platform: KubernetesPlatform;
  let webPod: string;

  before(async () => {
    ({ fake, platform, webPod } = await startShop());
  });

  after(async () => {
    await platform?.close();
    await fake?.stop();
  });

  describe('logs', () => {
    it('follows a pod that starts after the stream began, named by process', async () => {
      const controller = new AbortController();
      const lines: LogLine[] = [];
      const reading = (async () => {
        for await (const line of platform.streamLogs(app, {
          tail: 0,
          follow: true,
          signal: controller.signal,
        })) {
          lines.push(line);
          if (line.line === 'late pod says hi') controller.abort();
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      const late = appPod(app, app, 'web', 'z9y8x');
      fake.create(late);
      const name = late.metadata?.name ?? '';
      await waitForPodRunning(fake, app, name);
      await new Promise((r) => setTimeout(r, 300));
      fake.appendPodLog(app, name, undefined, 'late pod says hi');
      await within(10_000, reading, 'line from the late pod');
      const hi = lines.find((l) => l.line === 'late pod says hi');
      assert.equal(hi?.process, 'web.z9y8x');
      assert.equal(hi?.source, 'app');
      const processes = await platform.listProcesses(app);
      assert.deepEqual(
        processes.map((p) => [p.name, p.pod, p.state]),
        [
          ['web.a1b2c', webPod, 'running'],
          ['web.z9y8x', name, 'running'],
        ],
      );
      fake.delete('pods', app, name);
    });

    it('resumes after a container restart without duplicate lines', async () => {
      for (const n of [1, 2, 3]) fake.appendPodLog(app, webPod, undefined, `before-${n}`);
      const controller = new AbortController();
      const seen: string[] = [];
      const reading = (async () => {
        for await (const line of platform.streamLogs(app, {
          tail: 3,
          follow: true,
          signal: controller.signal,
        })) {
          seen.push(line.line);
          if (line.line === 'after-2') controller.abort();
        }
      })();
      await waitUntil('backlog', () => seen.includes('before-3'), 10_000, 20);
      fake.appendPodLog(app, webPod, undefined, 'after-1');
      await waitUntil('after-1', () => seen.includes('after-1'), 10_000, 20);
      fake.restartContainer(app, webPod);
      await new Promise((r) => setTimeout(r, 300));
      fake.appendPodLog(app, webPod, undefined, 'after-2');
      await within(10_000, reading, 'line after restart');
      assert.deepEqual(seen, ['before-1', 'before-2', 'before-3', 'after-1', 'after-2']);
    });

    it('shows only lines at or after since', async () => {
      fake.appendPodLog(app, webPod, undefined, 'old line');
      await new Promise((r) => setTimeout(r, 1100));
      const since = new Date();
      await new Promise((r) => setTimeout(r, 20));
      fake.appendPodLog(app, webPod, undefined, 'new line');
      const lines: string[] = [];
      for await (const line of platform.streamLogs(app, { since, tail: 1000 })) {
        assert.ok(line.time.getTime() >= since.getTime(), `${line.line} is older than since`);
        lines.push(line.line);
      }
      assert.ok(lines.includes('new line'));
      assert.ok(!lines.includes('old line'));
    });

    it('bounds the fan-out and says so', async () => {
      const fanFake = await startFakeApiServer();
      const fan = await createKubernetesPlatform(
        platformConfig(fanFake, { logs: { maxStreams: 1, reconnectDelayMs: 50 } }),
        { logger: silent },
      );
      try {
        const first = seedApp(fanFake, app);
        const second = appPod(app, app, 'web', 'q1w2e');
        fanFake.create(second);
        await waitUntil(
          'pods running',
          () =>
            (fanFake.list('pods', app) as { status?: { phase?: string } }[]).every(
              (p) => p.status?.phase === 'Running',
            ),
          10_000,
          20,
        );
        fanFake.appendPodLog(app, first, undefined, 'from first');
        fanFake.appendPodLog(app, second.metadata?.name ?? '', undefined, 'from second');
        const lines: LogLine[] = [];
        for await (const line of fan.streamLogs(app, { tail: 10 })) lines.push(line);
        assert.match(
          lines.find((l) => l.source === 'neetodeploy')?.line ?? '',
          /showing logs of 1 of 2 pods/,
        );
        assert.deepEqual(
          lines.filter((l) => l.source === 'app').map((l) => l.line),
          ['from first'],
        );
      } finally {
        await fan.close();
        await fanFake.stop();
      }
    });

    it('holds a stalled reader to a bounded queue over a large log (backpressure)', async function () {
      this.timeout(60_000);
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const heap = (): number => {
        gc();
        return process.memoryUsage().heapUsed;
      };
      const LINES = 100_000;
      const text = (i: number) => `line ${i} ${'x'.repeat(80)}`;
      const followsBefore = fake.activeLogFollows();
      const reader = platform.streamLogs(app, { tail: 0, follow: true })[Symbol.asyncIterator]();
      try {
        const first = reader.next();
        await waitUntil(
          'the log followed',
          () => fake.activeLogFollows() > followsBefore,
          10_000,
          20,
        );
        fake.appendPodLog(app, webPod, undefined, 'first');
        assert.equal((await first).value?.line, 'first');
        // The reader stalls; the container prints a large log.
        for (let i = 0; i < LINES; i++) fake.appendPodLog(app, webPod, undefined, text(i));
        const before = heap();
        // Until the platform stops pulling (or has pulled everything): progress, not a guess.
        let last = -1;
        for (let waited = 0; waited < 20_000 && fake.unwrittenLogLines() !== last;) {
          last = fake.unwrittenLogLines();
          await new Promise((r) => setTimeout(r, 500));
          waited += 500;
        }
        const grown = heap() - before;
        // Unbounded, the platform pulls all 100,000 lines (~9 MB of text) into its queue
        // (+30 MiB of heap measured); bounded, it holds QUEUE_HIGH_WATER lines (+0.6 MiB) and
        // the rest waits at the API server, unread.
        assert.ok(grown < 8 * 1024 * 1024, `heap grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
        assert.ok(
          fake.unwrittenLogLines() > LINES / 2,
          `the API server still holds most lines: ${fake.unwrittenLogLines()}`,
        );
        // The reader resumes: every line arrives, once and in order.
        for (let i = 0; i < LINES; i++) {
          const next = await reader.next();
          assert.equal(next.value?.line, text(i));
        }
        assert.equal(fake.unwrittenLogLines(), 0);
      } finally {
        await reader.return?.();
      }
    });
  });
});
