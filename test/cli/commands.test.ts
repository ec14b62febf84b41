/**
 * CLI commands driven in-process with a fake terminal against a real keys-service (HTTPS on
 * 127.0.0.1) backed by a real local platform.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { approveLoginSession } from '@neetodeploy/keys-service';
import { resolveConfigDir, credentialsPath, loadCredentials } from '../../cli/src/config.js';
import { ApiError, CliError, NotLoggedInError, UsageError } from '../../cli/src/errors.js';
import { parseDotenv } from '../../cli/src/dotenv.js';
import { abortableSleep } from '../../cli/src/io.js';
import { ALICE, BOB, fakeIo, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';

describe('cli: config dir resolution', function () {
  it('prefers NEETODEPLOY_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config', function () {
    assert.equal(
      resolveConfigDir({ NEETODEPLOY_CONFIG_DIR: '/a/b', XDG_CONFIG_HOME: '/x' }, '/home/u'),
      '/a/b',
    );
    assert.equal(resolveConfigDir({ XDG_CONFIG_HOME: '/x' }, '/home/u'), '/x/neetodeploy');
    assert.equal(resolveConfigDir({}, '/home/u'), '/home/u/.config/neetodeploy');
    assert.equal(
      resolveConfigDir({ NEETODEPLOY_CONFIG_DIR: '', XDG_CONFIG_HOME: '' }, '/h'),
      '/h/.config/neetodeploy',
    );
  });

  it('reads .env files with quotes, comments and export', function () {
    const vars = parseDotenv(
      [
        '# comment',
        'export A=1',
        "B='it''s'",
        'C="two\\nlines"',
        'D=plain value # note',
        '',
        'E="multi',
        'line"',
      ].join('\n'),
      '.env',
    );
    assert.deepEqual(vars, {
      A: '1',
      B: 'its',
      C: 'two\nlines',
      D: 'plain value',
      E: 'multi\nline',
    });
    assert.throws(() => parseDotenv('1BAD=x', '.env'), UsageError);
  });
});

describe('cli: commands against a real keys-service', function () {
  let env: CliEnv;

  before(async function () {
    env = await startCliEnv();
  });

  after(async function () {
    await env?.dispose();
  });

  it('login runs the device flow, stores the token 0600, and whoami shows the user', async function () {
    const config = env.config('login');
    const io = fakeIo({
      onOpenBrowser: async (url) => {
        const code = new URL(url).searchParams.get('code') ?? '';
        await approveLoginSession(env.ks.service.context, {
          userCode: code,
          email: ALICE,
          decision: 'approve',
        });
      },
    });
    const { code } = await env.run(
      config,
      ['login', '--api', env.apiUrl, '--ca-file', env.caFile],
      io,
    );
    assert.equal(code, 0);
    assert.equal(io.opened.length, 1);
    assert.match(io.err(), /open this page/);
    assert.match(io.err(), /[B-Z]{4}-[B-Z]{4}/);
    assert.match(io.err(), new RegExp(`Logged in as ${ALICE}`));
    assert.equal(io.out(), '', 'nothing on stdout');

    const file = credentialsPath(config);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(config.dir).mode & 0o777, 0o700);
    const creds = await loadCredentials(config);
    assert.equal(creds?.email, ALICE);
    assert.equal(creds?.apiUrl, env.apiUrl);
    assert.ok(creds?.caFile?.startsWith(config.dir), 'the CA is kept in the config dir');
    assert.equal(fs.readFileSync(creds.caFile ?? '', 'utf8'), env.ks.ca);

    const who = await env.run(config, ['whoami']);
    assert.equal(who.io.out(), `${ALICE}\n`);

    // Logging in again from the same CLI revokes the token it replaces.
    const again = await env.run(
      config,
      ['login', '--api', env.apiUrl, '--ca-file', env.caFile],
      fakeIo({
        onOpenBrowser: async (url) => {
          const userCode = new URL(url).searchParams.get('code') ?? '';
          await approveLoginSession(env.ks.service.context, {
            userCode,
            email: ALICE,
            decision: 'approve',
          });
        },
      }),
    );
    assert.equal(again.code, 0);
    const renewed = await loadCredentials(config);
    assert.notEqual(renewed?.token, creds.token);
    const stale = env.config('login-old', {
      token: creds.token,
      apiUrl: env.apiUrl,
      caFile: env.caFile,
    });
    await assert.rejects(env.run(stale, ['whoami']), /refused|expired|revoked|log/i);
    const current = env.config('login-new', {
      token: renewed?.token ?? '',
      apiUrl: env.apiUrl,
      caFile: env.caFile,
    });
    assert.equal((await env.run(current, ['whoami'])).io.out(), `${ALICE}\n`);
  });

  it('login with --no-browser only prints the URL; a denial is an error', async function () {
    const config = env.config('login-denied');
    const io = fakeIo();
    const running = env.run(
      config,
      ['login', '--api', env.apiUrl, '--ca-file', env.caFile, '--no-browser'],
      io,
    );
    let userCode: string | undefined;
    while (!userCode) {
      await new Promise((r) => setTimeout(r, 20));
      userCode = /code ([B-Z]{4}-[B-Z]{4})/.exec(io.err())?.[1];
    }
    await approveLoginSession(env.ks.service.context, { userCode, email: ALICE, decision: 'deny' });
    await assert.rejects(
      running,
      (err: unknown) => err instanceof CliError && /denied/.test(err.message),
    );
    assert.equal(io.opened.length, 0);
    assert.equal(fs.existsSync(credentialsPath(config)), false);
  });

  it('login waits longer after slow_down, as the server asks', async function () {
    const config = env.config('login-slow');
    const asked: number[] = [];
    const io = fakeIo();
    // Polls at once (too fast), records what the CLI then waits, and cancels.
    const sleepy = {
      ...io,
      sleep: (ms: number, signal?: AbortSignal): Promise<void> => {
        asked.push(ms);
        if (asked.length < 3) return Promise.resolve();
        const waiting = abortableSleep(60_000, signal);
        io.interrupt();
        return waiting;
      },
    };
    const running = env.run(
      config,
      ['login', '--api', env.apiUrl, '--ca-file', env.caFile, '--no-browser'],
      sleepy,
    );
    await assert.rejects(
      running,
      (err: unknown) => err instanceof CliError && err.kind === 'cancelled',
    );
    assert.deepEqual(asked, [1000, 1000, 6000]);
  });

  it('Ctrl-C during login cancels it', async function () {
    const config = env.config('login-cancel');
    const io = fakeIo();
    const running = env.run(
      config,
      ['login', '--api', env.apiUrl, '--ca-file', env.caFile, '--no-browser'],
      io,
    );
    while (!/Waiting/.test(io.err())) await new Promise((r) => setTimeout(r, 20));
    io.interrupt();
    await assert.rejects(
      running,
      (err: unknown) => err instanceof CliError && err.kind === 'cancelled',
    );
  });

  it('without credentials commands say to log in', async function () {
    const config = env.config('anonymous');
    await assert.rejects(env.run(config, ['apps']), (err: unknown) => {
      assert.ok(err instanceof NotLoggedInError);
      assert.match(err.message, /neetodeploy login/);
      return true;
    });
  });

  it('apps lists apps with permissions, as a table and as JSON', async function () {
    const config = env.config('apps');
    await env.loginAs(config, ALICE);
    const table = await env.run(config, ['apps']);
    assert.match(table.io.out(), /^NAME\s+PERMISSIONS\s+PROCESSES\n/);
    assert.match(table.io.out(), /demo\s+exec,logs,config:read,config:write\s+web/);
    const json = await env.run(config, ['apps', '--json']);
    const apps = JSON.parse(json.io.out()) as { name: string; permissions: string[] }[];
    assert.deepEqual(apps.find((a) => a.name === 'demo')?.permissions, [
      'exec',
      'logs',
      'config:read',
      'config:write',
    ]);
  });

  it('config:set, config:get, config and config:unset round-trip through the local platform', async function () {
    const config = env.config('config');
    await env.loginAs(config, ALICE);
    const tricky = `it's "quoted" $HOME \\ ünï`;
    const set = await env.run(config, [
      'config:set',
      '-a',
      'demo',
      'GREETING=hello world',
      `TRICKY=${tricky}`,
      'EMPTY=',
      '--no-restart',
    ]);
    assert.equal(set.code, 0);
    assert.match(set.io.err(), /Setting GREETING, TRICKY and EMPTY on demo\.\.\. done/);
    assert.equal((await env.platform.getConfigVars('demo')).vars.GREETING, 'hello world');

    assert.equal(
      (await env.run(config, ['config:get', '-a', 'demo', 'TRICKY'])).io.out(),
      `${tricky}\n`,
    );
    const json = await env.run(config, ['config', '-a', 'demo', '--json']);
    assert.deepEqual(JSON.parse(json.io.out()), {
      EMPTY: '',
      GREETING: 'hello world',
      TRICKY: tricky,
    });
    const shell = await env.run(config, ['config', '-a', 'demo', '--shell']);
    assert.equal(
      shell.io.out(),
      `EMPTY=''\nGREETING='hello world'\nTRICKY='it'\\''s "quoted" $HOME \\ ünï'\n`,
    );
    const human = await env.run(config, ['config', '-a', 'demo']);
    assert.match(human.io.err(), /=== demo Config Vars/);
    assert.match(human.io.out(), /^GREETING: hello world$/m);

    const envFile = path.join(env.root, 'vars.env');
    fs.writeFileSync(envFile, 'FROM_FILE="a b"\nGREETING=from-file\n');
    await env.run(config, [
      'config:set',
      '-a',
      'demo',
      '--file',
      envFile,
      'GREETING=cli-wins',
      '--no-restart',
    ]);
    const after = (await env.platform.getConfigVars('demo')).vars;
    assert.equal(after.FROM_FILE, 'a b');
    assert.equal(after.GREETING, 'cli-wins');

    const unset = await env.run(config, [
      'config:unset',
      '-a',
      'demo',
      'GREETING',
      'FROM_FILE',
      '--no-restart',
    ]);
    assert.match(unset.io.err(), /Unsetting GREETING and FROM_FILE/);
    const left = (await env.platform.getConfigVars('demo')).vars;
    assert.equal(left.GREETING, undefined);
    assert.equal(left.TRICKY, tricky);
    await assert.rejects(
      env.run(config, ['config:get', '-a', 'demo', 'GREETING']),
      /GREETING is not set on demo/,
    );
  });

  it('two concurrent config:set on the same app both land', async function () {
    const a = env.config('concurrent-a');
    const b = env.config('concurrent-b');
    await env.loginAs(a, ALICE);
    await env.loginAs(b, ALICE);
    for (let round = 0; round < 3; round++) {
      await Promise.all([
        env.run(a, ['config:set', '-a', 'demo', `ONE_${round}=1`, '--no-restart']),
        env.run(b, ['config:set', '-a', 'demo', `TWO_${round}=2`, '--no-restart']),
      ]);
      const vars = (await env.platform.getConfigVars('demo')).vars;
      assert.equal(vars[`ONE_${round}`], '1');
      assert.equal(vars[`TWO_${round}`], '2');
    }
  });

  it('bad input is a usage error before any request', async function () {
    const config = env.config('usage');
    await env.loginAs(config, ALICE);
    await assert.rejects(env.run(config, ['config:set', '-a', 'demo', 'NOEQUALS']), UsageError);
    await assert.rejects(env.run(config, ['config:set', '-a', 'demo', '1X=2']), UsageError);
    await assert.rejects(env.run(config, ['config:set', '-a', 'demo']), UsageError);
    await assert.rejects(env.run(config, ['logs', '-a', 'demo', '-n', 'many']), UsageError);
  });

  it('refusals say what to do: unknown apps list yours, missing permissions are named', async function () {
    const alice = env.config('errors-alice');
    await env.loginAs(alice, ALICE);
    await assert.rejects(env.run(alice, ['config', '-a', 'nosuchapp']), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.match(
        err.message,
        /unknown app nosuchapp, or you have no access to it\. Apps you can use: demo/,
      );
      return true;
    });
    const bob = env.config('errors-bob');
    await env.loginAs(bob, BOB);
    await assert.rejects(env.run(bob, ['config:set', '-a', 'demo', 'X=1']), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 403);
      assert.match(err.message, /config:write/);
      assert.match(err.message, /neetodeploy apps/);
      return true;
    });
    assert.equal((await env.platform.getConfigVars('demo')).vars.X, undefined);
  });

  it('logout revokes the token on the server and forgets it; a revoked token logs out too', async function () {
    const config = env.config('logout');
    const token = await env.loginAs(config, ALICE);
    const out = await env.run(config, ['logout']);
    assert.match(out.io.err(), /Logged out alice@example\.com/);
    assert.equal(fs.existsSync(credentialsPath(config)), false);
    const me = await env.ks.client.request('/api/v1/me', { token });
    assert.equal(me.status, 401);

    // A token already revoked elsewhere: logout still forgets it.
    const again = env.config('logout-revoked');
    const second = await env.loginAs(again, ALICE);
    await env.ks.client.request('/api/v1/tokens/current', { method: 'DELETE', token: second });
    await env.run(again, ['logout']);
    assert.equal(fs.existsSync(credentialsPath(again)), false);
    await assert.rejects(env.run(again, ['whoami']), NotLoggedInError);
  });

  it('an expired or revoked token is an auth error telling to log in', async function () {
    const config = env.config('revoked');
    const token = await env.loginAs(config, ALICE);
    await env.ks.client.request('/api/v1/tokens/current', { method: 'DELETE', token });
    await assert.rejects(env.run(config, ['apps']), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.kind, 'auth');
      assert.match(err.message, /neetodeploy login/);
      return true;
    });
  });
});
