/**
 * What only the local platform does: Procfile processes, restarts, the demo app, log files,
 * state shared between processes on one data dir, and leaving nothing running on close().
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import {
  BadRequest,
  NotFound,
  PayloadTooLarge,
  createLocalPlatform,
  type LocalPlatform,
  type LocalPlatformConfigInput,
  type LogLine,
  type Platform,
} from '@neetodeploy/platform';
import { SOURCE_NODE_ARGS } from '../support/paths.js';
import { runCommand, waitForOutput, within } from '../support/platform-conformance.js';

const silent = pino({ level: 'silent' });

function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nd-platform-local-'));
}

function writeApp(dataDir: string, app: string, procfile: string): string {
  const dir = path.join(dataDir, 'apps', app);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Procfile'), procfile);
  return dir;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function logLines(platform: Platform, app: string, tail = 1000): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for await (const line of platform.streamLogs(app, { tail })) lines.push(line);
  return lines;
}

async function waitForLog(platform: Platform, app: string, pattern: RegExp, ms = 5000) {
  return waitFor(
    `a log line matching ${String(pattern)}`,
    async () => (await logLines(platform, app)).find((l) => pattern.test(l.line)),
    ms,
  );
}

/** Exited: no such process, or a zombie (orphans here may stay unreaped by PID 1). */
function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}

async function startedAtOf(platform: Platform, app: string, name: string): Promise<number> {
  const info = (await platform.listProcesses(app)).find((p) => p.name === name);
  assert.ok(info?.startedAt, `${name} has a start time`);
  return info.startedAt.getTime();
}

function open(platform: LocalPlatform, app: string, extra: Record<string, unknown> = {}) {
  return platform.openConsole(app, { sessionId: 'local-test', user: 'dev@example.com', ...extra });
}

describe('local platform', function () {
  this.timeout(20_000);
  const cleanups: (() => Promise<void>)[] = [];
  const made = new Map<string, LocalPlatform[]>();

  async function make(dataDir: string, config: Partial<LocalPlatformConfigInput> = {}) {
    const platform = await createLocalPlatform(
      {
        dataDir,
        runProcesses: true,
        createDemoApp: false,
        ...config,
        limits: { stopGraceMs: 500, logPollMs: 50, restartBackoffMs: 100, ...config.limits },
      },
      { logger: silent },
    );
    cleanups.push(() => platform.close());
    made.set(dataDir, [...(made.get(dataDir) ?? []), platform]);
    return platform;
  }

  /** Closes the platforms made on a data dir (they write run state while stopping), then removes it. */
  async function dispose(dataDir: string): Promise<void> {
    for (const platform of made.get(dataDir) ?? []) await platform.close();
    made.delete(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

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
      await waitFor(
        'the same resources as before',
        () => resources() === before || undefined,
        2000,
      ).catch(() => assert.equal(resources(), before));
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

  describe('demo app', () => {
    it('is created on first start, answers HTTP, logs requests and heartbeats', async function () {
      this.timeout(30_000);
      const dataDir = tempDataDir();
      try {
        const platform = await make(dataDir, { createDemoApp: true });
        assert.deepEqual(await platform.listApps(), [{ name: 'demo', processTypes: ['web'] }]);
        const port = await waitFor('the demo port', async () => {
          const value = await runTarget(platform, 'demo', { process: 'web' }, 'printf %s "$PORT"');
          return /^\d+$/.test(value) ? Number(value) : undefined;
        });
        const body = await waitFor('an HTTP answer', async () => {
          try {
            const response = await fetch(`http://127.0.0.1:${port}/hello`);
            return response.status === 200 ? await response.text() : undefined;
          } catch {
            return undefined;
          }
        });
        assert.equal(body, 'Hello from the neetodeploy demo app (web.1)\n');
        await waitForLog(platform, 'demo', /^method=GET path="\/hello" status=200/);

        await platform.updateConfigVars('demo', {
          set: { GREETING: 'Hi there', HEARTBEAT_INTERVAL_MS: '150' },
        });
        await waitForLog(platform, 'demo', /^heartbeat uptime=\d+s requests=0$/);
        const greeted = await waitFor('the new greeting', async () => {
          try {
            return await (await fetch(`http://127.0.0.1:${port}/`)).text();
          } catch {
            return undefined;
          }
        });
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

  describe('config vars', () => {
    const dataDir = tempDataDir();
    let platform: LocalPlatform;
    let logged = '';
    after(async () => {
      await platform?.close();
      await dispose(dataDir);
    });

    before(async () => {
      writeApp(dataDir, 'cfg', 'web: echo "secret is $SECRET_TOKEN"; exec sleep 1000\n');
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logged += chunk.toString();
          callback();
        },
      });
      platform = await createLocalPlatform(
        {
          dataDir,
          runProcesses: false,
          createDemoApp: false,
        },
        { logger: pino({ level: 'trace' }, sink) },
      );
      cleanups.push(() => platform.close());
    });

    it('bounds names and values', async () => {
      await assert.rejects(
        platform.updateConfigVars('cfg', { set: { BIG: 'x'.repeat(32 * 1024 + 1) } }),
        PayloadTooLarge,
      );
      const nearly = 'y'.repeat(32 * 1024);
      const set: Record<string, string> = {};
      for (let i = 0; i < 8; i++) set[`PART_${i}`] = nearly;
      await assert.rejects(platform.updateConfigVars('cfg', { set }), PayloadTooLarge);
      await assert.rejects(platform.updateConfigVars('cfg', { set: { NUL: 'a\0b' } }), BadRequest);
      await assert.rejects(
        platform.updateConfigVars('cfg', { set: { BOTH: '1' }, unset: ['BOTH'] }),
        BadRequest,
      );
      await assert.rejects(
        platform.updateConfigVars('cfg', { set: { ['A'.repeat(257)]: '1' } }),
        BadRequest,
      );
      assert.deepEqual((await platform.getConfigVars('cfg')).vars, {});
    });

    it('stores values 0600 and never logs them', async () => {
      const secret = `s3cr3t-${Date.now()}`;
      await platform.updateConfigVars('cfg', { set: { SECRET_TOKEN: secret } });
      const file = path.join(dataDir, 'config-vars', 'cfg.json');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.match(logged, /SECRET_TOKEN/);
      assert.doesNotMatch(logged, new RegExp(secret));
      const api = fs.readFileSync(path.join(dataDir, 'logs', 'cfg', 'api.log'), 'utf8');
      assert.match(api, /Set SECRET_TOKEN config vars/);
      assert.doesNotMatch(api, new RegExp(secret));
      // No temp files or locks left behind.
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['cfg.json']);
    });

    it('keeps every update made concurrently by separate processes', async function () {
      this.timeout(30_000);
      const writer = path.join(import.meta.dirname, 'fixtures', 'config-writer.ts');
      const runWriter = (prefix: string) =>
        new Promise<number | null>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [...SOURCE_NODE_ARGS, writer, dataDir, 'cfg', prefix, '15'],
            { stdio: ['ignore', 'ignore', 'inherit'] },
          );
          child.once('error', reject);
          child.once('exit', resolve);
        });
      const ownUpdates = (async () => {
        for (let i = 0; i < 15; i++) {
          await platform.updateConfigVars('cfg', { set: { [`HERE_${i}`]: String(i) } });
        }
      })();
      const codes = await Promise.all([runWriter('ONE'), runWriter('TWO'), ownUpdates]);
      assert.deepEqual(codes.slice(0, 2), [0, 0]);
      const { vars } = await platform.getConfigVars('cfg');
      for (const prefix of ['ONE', 'TWO', 'HERE']) {
        for (let i = 0; i < 15; i++) assert.equal(vars[`${prefix}_${i}`], String(i));
      }
    });
  });

  describe('consoles', () => {
    const dataDir = tempDataDir();
    let platform: LocalPlatform;
    after(async () => {
      await platform?.close();
      await dispose(dataDir);
    });
    before(async () => {
      writeApp(dataDir, 'box', 'web: exec sleep 1000\n');
      platform = await make(dataDir, { runProcesses: false });
    });

    it('runs a login shell that reads commands from stdin on pipes', async () => {
      const console = await open(platform, 'box');
      const out = waitForOutput(console.stdout, /hi from the shell/);
      console.stderr.resume();
      console.stdin.end('echo "hi from the shell"; exit 7\n');
      assert.match(await out, /hi from the shell/);
      assert.deepEqual(await within(5000, console.done, 'shell end'), { code: 7 });
    });

    it('runs an interactive shell on a pty', async () => {
      const console = await open(platform, 'box', {
        pty: { term: 'vt100', cols: 80, rows: 24 },
        env: { LC_GREETING: 'hello-pty' },
      });
      console.stdin.write('echo "$((6 * 7)) $LC_GREETING $TERM"\n');
      await waitForOutput(console.stdout, /42 hello-pty vt100/);
      console.stdin.write('exit 3\n');
      assert.deepEqual(await within(5000, console.done, 'pty shell end'), { code: 3 });
    });

    it('pauses a pty producer while the consumer does not read', async function () {
      this.timeout(15_000);
      const counter = path.join(dataDir, 'counter');
      const console = await open(platform, 'box', {
        command: `i=0; while [ $i -lt 300 ]; do head -c 16384 /dev/zero; i=$((i+1)); echo $i > ${counter}; done`,
        pty: { term: 'xterm', cols: 80, rows: 24 },
      });
      const count = () => Number(fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8') : 0);
      await sleep(800);
      const early = count();
      await sleep(400);
      const late = count();
      assert.ok(late < 64, `${late} chunks of 16 KB written while nobody read`);
      assert.ok(late - early <= 1, `still producing (${early} → ${late})`);
      let received = 0;
      console.stdout.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      assert.deepEqual(await within(10_000, console.done, 'pty producer end'), { code: 0 });
      assert.equal(count(), 300);
      assert.ok(received >= 300 * 16384 - 64 * 1024, `${received} bytes`);
    });

    it('applies backpressure to stdin when the process does not read it', async () => {
      for (const pty of [undefined, { term: 'xterm', cols: 80, rows: 24 }]) {
        const console = await open(platform, 'box', {
          // Raw mode: a terminal keeps unread input instead of discarding long lines.
          command: pty ? 'stty raw -echo; echo ready; sleep 30' : 'echo ready; sleep 30',
          ...(pty ? { pty } : {}),
        });
        console.stderr.resume();
        await waitForOutput(console.stdout, /ready/);
        const chunk = Buffer.alloc(16 * 1024, 'x');
        let writes = 0;
        while (console.stdin.write(chunk) && writes < 1000) writes++;
        // Pipe: 64 KB in the kernel plus the stream's buffer; pty: the terminal's buffers.
        assert.ok(writes < 64, `${writes} writes of 16 KB accepted (${pty ? 'pty' : 'pipe'})`);
        console.kill();
        await within(5000, console.done, 'console end');
      }
    });

    it('KILLs a console that ignores TERM after the grace period', async () => {
      for (const pty of [undefined, { term: 'xterm', cols: 80, rows: 24 }]) {
        const console = await open(platform, 'box', {
          command: "trap '' TERM HUP; echo ready; while :; do sleep 0.05; done",
          ...(pty ? { pty } : {}),
        });
        console.stderr.resume();
        await waitForOutput(console.stdout, /ready/);
        const started = Date.now();
        console.kill();
        const status = await within(3000, console.done, 'done after KILL');
        assert.deepEqual(status, { signal: 'KILL' });
        // stopGraceMs is 500 here.
        assert.ok(Date.now() - started >= 450, `ended after ${Date.now() - started} ms`);
      }
    });

    it('does not start a console whose request was aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('client gone'));
      await assert.rejects(
        open(platform, 'box', { command: 'sleep 100', signal: controller.signal }),
        /client gone/,
      );
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
        const oldPid = await waitFor('web.pid', () =>
          fs.existsSync(pidFile)
            ? Number(fs.readFileSync(pidFile, 'utf8')) || undefined
            : undefined,
        );
        server.kill('SIGKILL');
        await new Promise((resolve) => server.once('exit', resolve));
        assert.ok(!gone(oldPid), 'the app process outlived its server');

        const platform = await make(dataDir);
        assert.ok(gone(oldPid), 'the orphan was stopped');
        const newPid = await waitFor('a new web.pid', () => {
          const pid = Number(fs.readFileSync(pidFile, 'utf8'));
          return pid && pid !== oldPid ? pid : undefined;
        });
        assert.equal((await platform.listProcesses('orphans'))[0]?.state, 'running');
        await platform.close();
        assert.ok(gone(newPid));
      } finally {
        server.kill('SIGKILL');
        await dispose(dataDir);
      }
    });
  });

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
          waitFor(file, () => {
            const text = fs.existsSync(path.join(appDir, file))
              ? fs.readFileSync(path.join(appDir, file), 'utf8').trim()
              : '';
            return text ? Number(text) : undefined;
          });
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

async function runTarget(
  platform: Platform,
  app: string,
  target: { process?: string; pod?: string },
  command: string,
): Promise<string> {
  const console = await platform.openConsole(app, {
    command,
    target,
    sessionId: 'local-test',
    user: 'dev@example.com',
  });
  console.stdin.end();
  console.stderr.resume();
  const chunks: Buffer[] = [];
  console.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  await within(5000, console.done, command);
  return Buffer.concat(chunks).toString();
}
