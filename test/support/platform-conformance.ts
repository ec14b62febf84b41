/**
 * The Platform conformance suite: the same cases for every backend (local, kubernetes over the
 * fake API server), driven only through the `Platform` interface.
 *
 * Usage, in a test file:
 *   runPlatformConformance('local', async () => ({ platform, app, cleanup }));
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BadRequest,
  Conflict,
  NotFound,
  type Console,
  type ConsoleOptions,
  type ExitStatus,
  type LogLine,
  type Platform,
} from '@neetodeploy/platform';

export interface PlatformFixture {
  readonly platform: Platform;
  /**
   * An existing app whose processes write at least one log line every `logIntervalMs`, and
   * whose consoles have a POSIX shell with `cat`, `wc`, `head`, `stty`, `sleep`, `yes`.
   */
  readonly app: string;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  /** How often the fixture app logs at least one line (default 1000 ms). */
  readonly logIntervalMs?: number;
  /** Console processes run on this host, so their pids can be checked (local, fake cluster). */
  readonly processesAreLocal?: boolean;
}

export interface RunResult {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly status: ExitStatus;
}

/** Rejects when `promise` takes longer than `ms`; the timer never outlives the race. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer | string) =>
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
    );
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('close', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Resolves with everything written to `stream` once `pattern` has appeared. */
export function waitForOutput(
  stream: NodeJS.ReadableStream,
  pattern: RegExp,
  ms = 5000,
): Promise<string> {
  let seen = '';
  let onData: ((chunk: Buffer | string) => void) | undefined;
  const found = new Promise<string>((resolve) => {
    onData = (chunk) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve(seen);
    };
    stream.on('data', onData);
  });
  return within(ms, found, `waiting for ${String(pattern)}`).finally(() => {
    if (onData) stream.removeListener('data', onData);
  });
}

function baseOptions(extra: Partial<ConsoleOptions> = {}): ConsoleOptions {
  return {
    sessionId: `conformance-${randomBytes(4).toString('hex')}`,
    user: 'conformance@example.com',
    ...extra,
  };
}

/** Runs a command to completion, feeding `stdin` and collecting both outputs. */
export async function runCommand(
  platform: Platform,
  app: string,
  command: string,
  options: { stdin?: Buffer | string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  const console = await platform.openConsole(
    app,
    baseOptions({ command, ...(options.env ? { env: options.env } : {}) }),
  );
  try {
    const stdout = collect(console.stdout);
    const stderr = collect(console.stderr);
    console.stdin.end(options.stdin ?? '');
    const status = await within(options.timeoutMs ?? 10_000, console.done, command);
    return { stdout: await stdout, stderr: await stderr, status };
  } catch (err) {
    console.kill();
    throw err;
  }
}

async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    return true;
  });
}

async function firstLog(iterable: AsyncIterable<LogLine>): Promise<unknown> {
  for await (const line of iterable) return line;
  return undefined;
}

export function runPlatformConformance(
  name: string,
  setup: () => Promise<PlatformFixture>,
  options: ConformanceOptions = {},
): void {
  const logIntervalMs = options.logIntervalMs ?? 1000;

  describe(`platform conformance: ${name}`, function () {
    this.timeout(20_000);
    let fixture: PlatformFixture;
    let platform: Platform;
    let app: string;
    const open: Console[] = [];

    const openConsole = async (extra: Partial<ConsoleOptions>) => {
      const console = await platform.openConsole(app, baseOptions(extra));
      open.push(console);
      return console;
    };

    before(async function () {
      this.timeout(60_000);
      fixture = await setup();
      platform = fixture.platform;
      app = fixture.app;
    });

    afterEach(async () => {
      for (const console of open.splice(0)) {
        console.kill();
        await within(10_000, console.done, 'console end after kill');
      }
    });

    after(async function () {
      this.timeout(60_000);
      await fixture?.cleanup();
    });

    describe('consoles', () => {
      it('keeps stdout and stderr apart', async () => {
        const result = await runCommand(
          platform,
          app,
          'printf out1; printf err1 >&2; printf out2; printf err2 >&2',
        );
        assert.deepEqual(result.status, { code: 0 });
        assert.equal(result.stdout.toString(), 'out1out2');
        assert.equal(result.stderr.toString(), 'err1err2');
      });

      it('pipes stdin through and closes it (cat, wc -c)', async () => {
        const data = randomBytes(1024 * 1024 + 17);
        const cat = await runCommand(platform, app, 'cat', { stdin: data });
        assert.deepEqual(cat.status, { code: 0 });
        assert.equal(cat.stdout.length, data.length);
        assert.equal(
          createHash('sha256').update(cat.stdout).digest('hex'),
          createHash('sha256').update(data).digest('hex'),
        );
        const wc = await runCommand(platform, app, 'wc -c', { stdin: Buffer.alloc(12_345, 'x') });
        assert.equal(wc.stdout.toString().trim(), '12345');
        const empty = await runCommand(platform, app, 'cat; echo eof');
        assert.equal(empty.stdout.toString(), 'eof\n');
      });

      it('shows config vars and the passed env to the process', async () => {
        const value = `v-${randomBytes(6).toString('hex')} with spaces`;
        await platform.updateConfigVars(
          app,
          { set: { CONFORMANCE_VAR: value } },
          { restart: false },
        );
        try {
          const result = await runCommand(
            platform,
            app,
            'printf "%s|%s" "$CONFORMANCE_VAR" "$LC_CONFORMANCE"',
            { env: { LC_CONFORMANCE: 'passed' } },
          );
          assert.equal(result.stdout.toString(), `${value}|passed`);
        } finally {
          await platform.updateConfigVars(app, { unset: ['CONFORMANCE_VAR'] }, { restart: false });
        }
      });

      it('reports exit codes 0 to 255', async () => {
        const codes = [0, 1, 2, 42, 126, 128, 200, 254, 255];
        const results = await Promise.all(
          codes.map((code) => runCommand(platform, app, `exit ${code}`)),
        );
        assert.deepEqual(
          results.map((r) => r.status),
          codes.map((code) => ({ code })),
        );
      });

      it('reports an exit by a signal sent through signal()', async () => {
        const console = await openConsole({ command: 'echo ready; sleep 30; echo not-killed' });
        const out = collect(console.stdout);
        void collect(console.stderr);
        await waitForOutput(console.stdout, /ready/);
        console.signal('TERM');
        const status = await within(5000, console.done, 'exit after TERM');
        assert.equal(status.signal, 'TERM');
        assert.equal(status.code, undefined);
        assert.doesNotMatch((await out).toString(), /not-killed/);
      });

      it('reports a process that kills itself as an exit by signal', async () => {
        const term = await runCommand(platform, app, 'kill -TERM $$; sleep 5');
        assert.equal(term.status.signal, 'TERM');
        const kill = await runCommand(platform, app, 'kill -KILL $$; sleep 5');
        assert.equal(kill.status.signal, 'KILL');
      });

      it('refuses an unknown signal name', async () => {
        const console = await openConsole({ command: 'sleep 30' });
        void collect(console.stdout);
        void collect(console.stderr);
        assert.throws(() => console.signal('NOT-A-SIGNAL'), BadRequest);
      });

      it('runs on a pty: stty size sees the requested size and a resize', async () => {
        const console = await openConsole({
          command: 'test -t 0 && echo is-a-tty; echo "$TERM"; stty size; read go; stty size',
          pty: { term: 'xterm-256color', cols: 91, rows: 27 },
        });
        const all = collect(console.stdout);
        await waitForOutput(console.stdout, /27 91/);
        console.resize(133, 41);
        console.stdin.write('go\n');
        await waitForOutput(console.stdout, /41 133/);
        const status = await within(5000, console.done, 'pty console end');
        assert.deepEqual(status, { code: 0 });
        const text = (await all).toString();
        assert.match(text, /is-a-tty/);
        assert.match(text, /xterm-256color/);
        assert.equal((await collect(console.stderr)).length, 0);
      });

      it('streams 100 MB of output with bounded memory', async function () {
        this.timeout(60_000);
        const total = 100 * 1024 * 1024;
        const console = await openConsole({ command: `head -c ${total} /dev/zero` });
        void collect(console.stderr);
        const baseline = process.memoryUsage.rss();
        let peak = baseline;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage.rss());
        }, 20);
        let received = 0;
        try {
          console.stdout.on('data', (chunk: Buffer) => {
            received += chunk.length;
          });
          const status = await within(50_000, console.done, '100 MB output');
          assert.deepEqual(status, { code: 0 });
        } finally {
          clearInterval(sampler);
        }
        assert.equal(received, total);
        const growthMb = (peak - baseline) / (1024 * 1024);
        assert.ok(growthMb < 64, `RSS grew by ${growthMb.toFixed(1)} MB`);
      });

      it('pauses the process while the consumer does not read', async function () {
        this.timeout(30_000);
        const chunk = 256 * 1024;
        const chunks = 200;
        const console = await openConsole({
          command: `i=0; while [ $i -lt ${chunks} ]; do head -c ${chunk} /dev/zero; i=$((i+1)); echo $i >&2; done`,
        });
        let produced = 0;
        console.stderr.on('data', (data: Buffer) => {
          const counts = data.toString().trim().split('\n');
          produced = Number(counts[counts.length - 1]);
        });
        // stdout is not read at all for a while: the producer must block.
        await sleep(700);
        const early = produced;
        await sleep(500);
        const late = produced;
        const boundChunks = (16 * 1024 * 1024) / chunk;
        assert.ok(late < boundChunks, `produced ${late} chunks while nobody read stdout`);
        assert.ok(late - early <= 1, `still producing while paused (${early} → ${late})`);
        let received = 0;
        console.stdout.on('data', (data: Buffer) => {
          received += data.length;
        });
        const status = await within(20_000, console.done, 'slow consumer end');
        assert.deepEqual(status, { code: 0 });
        assert.equal(received, chunk * chunks);
        assert.equal(produced, chunks);
      });

      it('ends the process when the client vanishes mid-stream (kill)', async () => {
        const console = await openConsole({ command: 'echo "pid=$$"; exec yes' });
        void collect(console.stderr);
        const seen = await waitForOutput(console.stdout, /pid=(\d+)\n[\s\S]*y\ny\n/);
        const pid = Number(/pid=(\d+)/.exec(seen)?.[1]);
        console.stdout.pause();
        console.kill();
        const status = await within(8000, console.done, 'done after kill');
        assert.ok(
          status.signal !== undefined,
          `expected an exit by signal, got ${JSON.stringify(status)}`,
        );
        if (options.processesAreLocal) {
          assert.throws(() => process.kill(pid, 0), /ESRCH/);
        }
      });

      it('runs two consoles at once, independently', async () => {
        const a = await openConsole({ command: 'read line; echo "A:$line"' });
        const b = await openConsole({ command: 'read line; echo "B:$line"' });
        const outA = collect(a.stdout);
        const outB = collect(b.stdout);
        void collect(a.stderr);
        void collect(b.stderr);
        b.stdin.end('second\n');
        assert.deepEqual(await within(5000, b.done, 'console B'), { code: 0 });
        assert.equal((await outB).toString(), 'B:second\n');
        a.stdin.end('first\n');
        assert.deepEqual(await within(5000, a.done, 'console A'), { code: 0 });
        assert.equal((await outA).toString(), 'A:first\n');
      });
    });

    describe('apps and names', () => {
      it('lists the app', async () => {
        const apps = await platform.listApps();
        assert.ok(apps.some((a) => a.name === app));
        const sorted = [...apps].map((a) => a.name).sort();
        assert.deepEqual(
          apps.map((a) => a.name),
          sorted,
        );
        assert.equal((await platform.getApp(app)).name, app);
      });

      it('throws NotFound for an unknown app', async () => {
        const unknown = `no-such-app-${randomBytes(3).toString('hex')}`;
        await rejectsWith(platform.getApp(unknown), NotFound);
        await rejectsWith(
          platform.openConsole(unknown, baseOptions({ command: 'true' })),
          NotFound,
        );
        await rejectsWith(platform.getConfigVars(unknown), NotFound);
        await rejectsWith(platform.updateConfigVars(unknown, { set: { A: '1' } }), NotFound);
        await rejectsWith(platform.listProcesses(unknown), NotFound);
        await rejectsWith(firstLog(platform.streamLogs(unknown, { tail: 1 })), NotFound);
      });

      it('throws BadRequest for an invalid app name', async () => {
        for (const bad of ['Bad_Name', '../etc', '-lead', 'a'.repeat(64), '']) {
          await rejectsWith(platform.getApp(bad), BadRequest);
          await rejectsWith(
            platform.openConsole(bad, baseOptions({ command: 'true' })),
            BadRequest,
          );
          await rejectsWith(platform.getConfigVars(bad), BadRequest);
          await rejectsWith(firstLog(platform.streamLogs(bad, { tail: 1 })), BadRequest);
        }
      });
    });

    describe('config vars', () => {
      it('sets, gets and unsets, with a new version each time', async () => {
        const initial = await platform.getConfigVars(app);
        const set = await platform.updateConfigVars(
          app,
          { set: { CONF_A: 'alpha', CONF_B: 'beta=with=equals\nand a newline' } },
          { restart: false },
        );
        assert.equal(set.vars.CONF_A, 'alpha');
        assert.equal(set.vars.CONF_B, 'beta=with=equals\nand a newline');
        assert.notEqual(set.version, initial.version);
        const read = await platform.getConfigVars(app);
        assert.deepEqual(read, set);
        const unset = await platform.updateConfigVars(
          app,
          { unset: ['CONF_A', 'CONF_B'] },
          { restart: false },
        );
        assert.equal(unset.vars.CONF_A, undefined);
        assert.equal(unset.vars.CONF_B, undefined);
        assert.notEqual(unset.version, set.version);
      });

      it('applies set and unset together', async () => {
        await platform.updateConfigVars(app, { set: { CONF_OLD: 'x' } }, { restart: false });
        const both = await platform.updateConfigVars(
          app,
          { set: { CONF_NEW: 'y' }, unset: ['CONF_OLD'] },
          { restart: false },
        );
        assert.equal(both.vars.CONF_NEW, 'y');
        assert.equal(both.vars.CONF_OLD, undefined);
        await platform.updateConfigVars(app, { unset: ['CONF_NEW'] }, { restart: false });
      });

      it('throws Conflict for a stale ifMatch and changes nothing', async () => {
        const first = await platform.updateConfigVars(
          app,
          { set: { CONF_C: '1' } },
          { restart: false },
        );
        const second = await platform.updateConfigVars(
          app,
          { set: { CONF_C: '2' } },
          { restart: false, ifMatch: first.version },
        );
        await rejectsWith(
          platform.updateConfigVars(
            app,
            { set: { CONF_C: '3' } },
            { restart: false, ifMatch: first.version },
          ),
          Conflict,
        );
        const now = await platform.getConfigVars(app);
        assert.equal(now.vars.CONF_C, '2');
        assert.equal(now.version, second.version);
        await platform.updateConfigVars(app, { unset: ['CONF_C'] }, { restart: false });
      });

      it('keeps every concurrent update made without ifMatch', async () => {
        const keys = Array.from({ length: 8 }, (_, i) => `CONF_PAR_${i}`);
        await Promise.all(
          keys.map((key, i) =>
            platform.updateConfigVars(app, { set: { [key]: String(i) } }, { restart: false }),
          ),
        );
        const { vars } = await platform.getConfigVars(app);
        keys.forEach((key, i) => assert.equal(vars[key], String(i), key));
        await platform.updateConfigVars(app, { unset: keys }, { restart: false });
      });

      it('rejects invalid names with BadRequest', async () => {
        for (const key of ['1ABC', 'A-B', 'A B', '', 'A=B']) {
          await rejectsWith(
            platform.updateConfigVars(app, { set: { [key]: 'x' } }, { restart: false }),
            BadRequest,
          );
        }
      });
    });

    describe('logs', () => {
      it('returns the last lines in time order and ends without follow', async function () {
        this.timeout(logIntervalMs * 4 + 10_000);
        await sleep(logIntervalMs * 2.5);
        const lines: LogLine[] = [];
        for await (const line of platform.streamLogs(app, { tail: 3 })) lines.push(line);
        assert.ok(lines.length >= 1 && lines.length <= 3, `${lines.length} lines`);
        for (let i = 1; i < lines.length; i++) {
          assert.ok(lines[i]!.time.getTime() >= lines[i - 1]!.time.getTime(), 'time order');
        }
        for (const line of lines) {
          assert.ok(line.time instanceof Date && typeof line.line === 'string');
          assert.equal(typeof line.process, 'string');
        }
      });

      it('follows: a line written after following started arrives, and abort ends it', async function () {
        this.timeout(logIntervalMs * 4 + 10_000);
        const controller = new AbortController();
        const started = Date.now();
        const iterable = platform.streamLogs(app, {
          tail: 0,
          follow: true,
          signal: controller.signal,
        });
        let fresh: LogLine | undefined;
        const reading = (async () => {
          for await (const line of iterable) {
            if (line.time.getTime() >= started && line.source !== 'neetodeploy') {
              fresh ??= line;
              controller.abort();
            }
          }
        })();
        await within(logIntervalMs * 3 + 5000, reading, 'followed line then end on abort');
        assert.ok(fresh, 'a new line arrived');
      });

      it('ends a follower promptly when the consumer stops iterating', async function () {
        this.timeout(logIntervalMs * 4 + 10_000);
        const iterable = platform.streamLogs(app, { tail: 0, follow: true });
        const iterator = iterable[Symbol.asyncIterator]();
        const pending = iterator.next();
        await sleep(50);
        await within(2000, Promise.resolve(iterator.return?.()), 'return()');
        const result = await within(logIntervalMs * 3 + 2000, pending, 'pending next');
        // Either the line that was already on its way, or the end.
        if (!result.done) assert.equal(typeof result.value.line, 'string');
        assert.deepEqual(await iterator.next(), { value: undefined, done: true });
      });
    });
  });
}
