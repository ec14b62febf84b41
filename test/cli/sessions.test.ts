/**
 * `neetodeploy sessions` and `neetodeploy sessions:play` against a real keys-service reading
 * recordings the recording library wrote: in-process with a fake terminal, as the real binary,
 * and in a real terminal (tmux).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordingManifest } from '@neetodeploy/recording';
import { run } from '../support/openssh.js';
import { ROOT, SOURCE_NODE_ARGS, sourceBinArgs } from '../support/paths.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, cleanEnv, runCli, startAllInOne } from '../e2e/support.js';
import type { RunningAllInOne } from '../e2e/support.js';
import { TmuxSession } from '../support/ssh-client.js';
import { waitUntil } from '../support/wait.js';
import {
  SESSIONS_POLICY,
  makeRecordingKey,
  recordSession,
} from '../keys-service/sessions-fixtures.js';
import type { RecordingKeyFiles } from '../keys-service/sessions-fixtures.js';
import { ALICE, BOB, fakeIo, runBin, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';
import type { CliConfig } from '../../cli/src/config.js';
import { UsageError } from '../../cli/src/errors.js';

describe('neetodeploy sessions and sessions:play', function () {
  this.timeout(60_000);
  let env: CliEnv;
  let keyFiles: RecordingKeyFiles;
  let alice: CliConfig;
  let bob: CliConfig;
  let exec: RecordingManifest;
  let shell: RecordingManifest;
  let slow: RecordingManifest;

  before(async function () {
    env = await startCliEnv();
    keyFiles = makeRecordingKey();
    // The CLI environment's policy grants no sessions:read; this one does (to Alice).
    fs.writeFileSync(env.ks.policyFile, SESSIONS_POLICY);
    const token = await env.ks.token(ALICE);
    await waitUntil('the policy granting sessions:read to load', async () => {
      const res = await env.ks.client.request('/api/v1/apps', { token });
      return JSON.stringify(res.json).includes('sessions:read');
    });
    const dir = path.join(env.ks.dataDir, 'recordings');
    exec = await recordSession(dir, keyFiles.key, {
      command: 'sh -c "echo out; echo err >&2; exit 3"',
      steps: [{ out: 'out line\n' }, { err: 'err line\n' }],
      exit: { code: 3 },
    });
    shell = await recordSession(dir, keyFiles.key, {
      user: BOB,
      command: null,
      steps: [{ in: 'ls\r' }, { out: 'ls\r\nfile-a  file-b\r\n' }, { resize: [120, 40] }],
    });
    slow = await recordSession(dir, keyFiles.key, {
      command: 'slow',
      steps: [{ out: 'before the pause\n' }, { pauseMs: 900 }, { out: 'after the pause\n' }],
    });
    alice = env.config('alice');
    await env.loginAs(alice, ALICE);
    bob = env.config('bob');
    await env.loginAs(bob, BOB);
  });

  after(async function () {
    await env?.dispose();
    if (keyFiles) fs.rmSync(keyFiles.dir, { recursive: true, force: true });
  });

  it('lists sessions newest first as a table: id, user, started, duration, command, exit, bytes', async function () {
    const { code, io } = await env.run(alice, ['sessions', '-a', 'demo']);
    assert.equal(code, 0, io.err());
    const lines = io.out().trimEnd().split('\n');
    assert.match(
      lines[0]!,
      /^ID\s+USER\s+STARTED\s+DURATION\s+COMMAND\s+EXIT\s+BYTES IN\/OUT\/ERR$/,
    );
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s+/)[0]),
      [slow.id, shell.id, exec.id],
    );
    const execRow = lines.find((l) => l.startsWith(exec.id))!;
    assert.match(
      execRow,
      new RegExp(
        `^${exec.id}\\s+${ALICE}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+\\d+ms\\s+sh -c "echo out; echo err >&2; exit 3"\\s+3\\s+0B/9B/9B$`,
      ),
    );
    const shellRow = lines.find((l) => l.startsWith(shell.id))!;
    assert.match(shellRow, new RegExp(`${BOB}\\s.*\\(shell\\)\\s+0\\s+3B/20B/0B$`));
  });

  it('--json prints the API objects; --user and -n narrow the list', async function () {
    const { io } = await env.run(alice, ['sessions', '-a', 'demo', '--json']);
    const sessions = JSON.parse(io.out()) as Array<{ id: string; exit_code: number | null }>;
    assert.deepEqual(
      sessions.map((s) => [s.id, s.exit_code]),
      [
        [slow.id, 0],
        [shell.id, 0],
        [exec.id, 3],
      ],
    );
    const byBob = await env.run(alice, ['sessions', '-a', 'demo', '--user', BOB, '--json']);
    assert.deepEqual(
      (JSON.parse(byBob.io.out()) as Array<{ id: string }>).map((s) => s.id),
      [shell.id],
    );
    const one = await env.run(alice, ['sessions', '-a', 'demo', '-n', '1', '--since', '1h']);
    assert.equal(one.io.out().trimEnd().split('\n').length, 2);
  });

  it('without sessions:read says to ask an admin for it; bad flags are usage errors', async function () {
    await assert.rejects(env.run(bob, ['sessions', '-a', 'demo']), (err: Error) => {
      assert.match(err.message, /ask an admin for sessions:read on demo/);
      return true;
    });
    await assert.rejects(env.run(bob, ['sessions:play', exec.id]), (err: Error) => {
      assert.match(err.message, /ask an admin for sessions:read on demo/);
      return true;
    });
    const bin = await runBin(['sessions', '-a', 'demo'], await tokenEnv(BOB, 'bob-bin'));
    assert.equal(bin.code, 1);
    assert.match(bin.stderr, /ask an admin for sessions:read on demo/);

    for (const argv of [
      ['sessions', '-a', 'demo', '--since', 'yesterday'],
      ['sessions', '-a', 'demo', '--since', '2026-02-30'],
      ['sessions', '-a', 'demo', '-n', '0'],
      ['sessions:play', 'not-an-id'],
      ['sessions:play', exec.id, '--speed', 'fast'],
    ]) {
      await assert.rejects(env.run(alice, argv), (err: Error) => {
        assert.ok(err instanceof UsageError, `${argv.join(' ')}: ${err.message}`);
        return true;
      });
    }
  });

  async function tokenEnv(email: string, home: string): Promise<Record<string, string>> {
    return {
      HOME: path.join(env.root, home),
      NEETODEPLOY_TOKEN: await env.ks.token(email),
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    };
  }

  it('sessions:play --speed 100 (the real binary) prints the output to stdout and stderr events to stderr', async function () {
    const res = await runBin(
      ['sessions:play', exec.id, '--speed', '100'],
      await tokenEnv(ALICE, 'play'),
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'out line\n');
    assert.match(res.stderr, /err line\n/);
    assert.match(res.stderr, /\[session ended with exit code 3\]/);
  });

  it('keeps the original timing divided by --speed; --speed 0 and --no-wait print at once', async function () {
    const timed = async (argv: string[]): Promise<number> => {
      const io = fakeIo();
      const started = performance.now();
      const { code } = await env.run(alice, argv, io);
      assert.equal(code, 0, io.err());
      assert.equal(io.out(), 'before the pause\nafter the pause\n');
      return performance.now() - started;
    };
    const normal = await timed(['sessions:play', slow.id]);
    assert.ok(normal >= 850, `speed 1 took ${normal.toFixed(0)} ms for a 900 ms pause`);
    const double = await timed(['sessions:play', slow.id, '--speed', '2']);
    assert.ok(double >= 400 && double < normal, `speed 2 took ${double.toFixed(0)} ms`);
    for (const argv of [
      ['sessions:play', slow.id, '--speed', '0'],
      ['sessions:play', slow.id, '--no-wait'],
    ]) {
      const fast = await timed(argv);
      assert.ok(fast < 400, `${argv.join(' ')} took ${fast.toFixed(0)} ms`);
    }
  });

  describe('in a real terminal (tmux)', function () {
    const command = async (args: string): Promise<string[]> => {
      const envArgs = Object.entries(await tokenEnv(ALICE, 'tmux')).map(([k, v]) => `${k}='${v}'`);
      const node = [
        process.execPath,
        ...SOURCE_NODE_ARGS,
        path.join(ROOT, 'cli', 'src', 'main.ts'),
      ];
      return [
        'bash',
        '-c',
        `cd '${ROOT}' && env ${envArgs.join(' ')} ${node.map((a) => `'${a}'`).join(' ')} ${args}; echo "[exit=$?]"`,
      ];
    };

    it('sessions:play --speed 100 shows what the session showed', async function () {
      const tmux = await TmuxSession.start(await command(`sessions:play ${shell.id} --speed 100`));
      try {
        const screen = await tmux.waitFor(/\[exit=\d+\]/, 20_000);
        assert.match(screen, /^ls\nfile-a {2}file-b$/m, screen);
        assert.match(screen, /^\[exit=0\]$/m, screen);
      } finally {
        await tmux.kill();
      }
    });

    it('Ctrl-C stops the replay with exit code 130', async function () {
      const tmux = await TmuxSession.start(await command(`sessions:play ${slow.id} --speed 0.1`));
      try {
        await tmux.waitFor(/before the pause/, 20_000);
        await tmux.send('C-c');
        const screen = await tmux.waitFor(/\[exit=\d+\]/, 10_000);
        assert.match(screen, /\[exit=130\]/, screen);
        assert.doesNotMatch(screen, /after the pause/, screen);
      } finally {
        await tmux.kill();
      }
    });
  });
});

describe('e2e: a session through the bastion of the all-in-one, then listed and played', function () {
  this.timeout(180_000);
  let tmp: string;
  let server: RunningAllInOne | undefined;
  let cliEnv: NodeJS.ProcessEnv;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-sessions-e2e-'));
    const dataDir = path.join(tmp, 'data');
    server = await startAllInOne(['--data-dir', dataDir, '--api-port', '0', '--ssh-port', '0'], {
      env: cleanEnv({
        NEETODEPLOY_ADMIN_EMAIL: ADMIN_EMAIL,
        NEETODEPLOY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    });
    // The first account may do everything on every app, sessions:read included.
    const minted = await run(
      process.execPath,
      [
        ...sourceBinArgs('keys-service'),
        'tokens',
        'create',
        '--user',
        ADMIN_EMAIL,
        '--ttl',
        '1h',
        '--data-dir',
        dataDir,
      ],
      { cwd: ROOT, env: cleanEnv(), timeoutMs: 60_000 },
    );
    assert.equal(minted.code, 0, minted.stderr);
    fs.mkdirSync(path.join(tmp, 'home'), { mode: 0o700 });
    cliEnv = cleanEnv({
      HOME: path.join(tmp, 'home'),
      NEETODEPLOY_CONFIG_DIR: path.join(tmp, 'cli-config'),
      NEETODEPLOY_TOKEN: minted.stdout.trim(),
      NEETODEPLOY_API_URL: server.banner.apiUrl,
      NEETODEPLOY_CA_FILE: server.banner.caFile,
    });
  });

  after(async function () {
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('exec with stdout, stderr and an exit code is listed (verified) and plays back', async function () {
    const exec = await runCli(
      ['exec', '-a', 'demo', '--', 'sh -c "echo out-from-e2e; echo err-from-e2e >&2; exit 3"'],
      { env: cliEnv },
    );
    assert.equal(exec.code, 3, exec.stderr);
    assert.equal(exec.stdout, 'out-from-e2e\n');

    // The manifest lands once the bastion has finished the session: poll for it.
    let listed: Array<Record<string, unknown>> = [];
    await waitUntil(
      'the recorded session to be listed',
      async () => {
        const r = await runCli(['sessions', '-a', 'demo', '--json'], { env: cliEnv });
        assert.equal(r.code, 0, r.stderr);
        listed = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
        return listed.length > 0;
      },
      30_000,
    );
    const [session] = listed;
    assert.deepEqual(
      {
        user: session!.user,
        command: session!.command,
        exit_code: session!.exit_code,
        bytes: session!.bytes,
        recording_mode: session!.recording_mode,
        verified: session!.verified,
      },
      {
        user: ADMIN_EMAIL,
        command: 'sh -c "echo out-from-e2e; echo err-from-e2e >&2; exit 3"',
        exit_code: 3,
        bytes: { in: 0, out: 13, err: 13 },
        recording_mode: 'full',
        verified: true,
      },
    );

    const play = await runCli(['sessions:play', String(session!.id), '--speed', '100'], {
      env: cliEnv,
    });
    assert.equal(play.code, 0, play.stderr);
    assert.equal(play.stdout, 'out-from-e2e\n');
    assert.match(play.stderr, /err-from-e2e\n/);
    assert.match(play.stderr, /\[session ended with exit code 3\]/);
  });
});

describe('cli: the sessions table', function () {
  it('shows control characters of a recorded command as \\xNN, never raw', async function () {
    const { sessionsTable } = await import('../../cli/src/commands/sessions.js');
    const table = sessionsTable([
      {
        id: '3f2b2a1c-0000-4000-8000-000000000001',
        app: 'demo',
        user: 'mallory@example.com',
        started_at: '2026-12-02T05:00:00.000Z',
        ended_at: '2026-12-02T05:00:01.000Z',
        duration_ms: 1000,
        command: 'echo \x1b]52;c;aGk=\x07 done',
        target: 'web.1',
        exit_code: 0,
        exit_signal: null,
        bytes: { in: 0, out: 5, err: 0 },
        recording_mode: 'full',
        verified: true,
      },
    ]);
    // eslint-disable-next-line no-control-regex -- asserting there are none
    assert.doesNotMatch(table, /[\x00-\x08\x0b-\x1f\x7f]/);
    assert.match(table, /echo \\x1b\]52;c;aGk=\\x07 done/);
    assert.doesNotMatch(table, /only hashed|FAILS VERIFY/);
  });

  it('says when a recording holds less than the session: bytes only hashed, ends early, fails verify', async function () {
    const { sessionsTable } = await import('../../cli/src/commands/sessions.js');
    const table = sessionsTable([
      {
        id: '3f2b2a1c-0000-4000-8000-000000000002',
        app: 'demo',
        user: 'mallory@example.com',
        started_at: '2026-12-02T05:00:00.000Z',
        ended_at: '2026-12-02T05:01:00.000Z',
        duration_ms: 60_000,
        command: 'head -c 70M /dev/zero',
        target: 'web.1',
        exit_code: 0,
        exit_signal: null,
        bytes: { in: 0, out: 70 * 1024 * 1024, err: 0 },
        dropped_bytes: 6 * 1024 * 1024,
        incomplete: 'store failed',
        recording_mode: 'full',
        verified: false,
      },
    ]);
    assert.match(table, /\(6(\.0)? ?M(i?B)? only hashed, ends early, FAILS VERIFY\)/);
  });
});
