/**
 * The real `neetodeploy` binary (spawned from source): exit codes, environment overrides, the
 * config dir and file permissions, login end to end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { approveLoginSession } from '@neetodeploy/keys-service';
import { ALICE, runBin, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';

describe('cli: the neetodeploy binary', function () {
  let env: CliEnv;

  before(async function () {
    env = await startCliEnv();
  });

  after(async function () {
    await env?.dispose();
  });

  it('--version, --help (with examples) exit 0; usage errors exit 2', async function () {
    const home = path.join(env.root, 'bin-home');
    const version = await runBin(['--version'], { HOME: home });
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const help = await runBin(['config:set', '--help'], { HOME: home });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Example:\n {2}\$ neetodeploy config:set -a demo/);
    const unknown = await runBin(['frobnicate'], { HOME: home });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
    const usage = await runBin(['config:set', '-a', 'demo', 'NOPE'], {
      HOME: home,
      NEETODEPLOY_TOKEN: 'x',
      NEETODEPLOY_API_URL: env.apiUrl,
    });
    assert.equal(usage.code, 2);
  });

  it('exits 4 with the next step when not logged in or the token is bad', async function () {
    const home = path.join(env.root, 'no-login');
    const res = await runBin(['apps'], { HOME: home });
    assert.equal(res.code, 4);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /not logged in: run `neetodeploy login`/);
    const bad = await runBin(['apps'], {
      HOME: home,
      NEETODEPLOY_TOKEN: 'ndk_not-a-real-token',
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    });
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /NEETODEPLOY_TOKEN was refused \(invalid API token\): unset it/);
  });

  it('ps lists the process types and instances, as Heroku does, and as JSON; refusals say what to do', async function () {
    const base = {
      HOME: path.join(env.root, 'ps'),
      NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    };
    const ps = await runBin(['ps', '-a', 'demo'], base);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^=== web \(\d+\)\n/);
    const listed = await env.platform.listProcesses('demo');
    for (const p of listed) assert.match(ps.stdout, new RegExp(`^${p.name}: ${p.state}`, 'm'));
    if (listed.length === 0) assert.match(ps.stdout, /\(no instance running\)/);
    const json = await runBin(['ps', '-a', 'demo', '--json'], base);
    const body = JSON.parse(json.stdout) as { app: string; process_types: string[] };
    assert.equal(body.app, 'demo');
    assert.deepEqual(body.process_types, ['web']);
    const missing = await runBin(['ps'], { ...base, NEETODEPLOY_APP: '' });
    assert.equal(missing.code, 2, missing.stderr);
    const unknown = await runBin(['ps', '-a', 'nosuchapp'], base);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nosuchapp/);
  });

  it('NEETODEPLOY_TOKEN / NEETODEPLOY_API_URL override stored credentials; errors exit 1', async function () {
    const token = await env.ks.token(ALICE);
    const base = {
      HOME: path.join(env.root, 'ci'),
      NEETODEPLOY_TOKEN: token,
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    };
    const who = await runBin(['whoami'], base);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, `${ALICE}\n`);
    await env.platform.updateConfigVars('demo', { set: { FROM_BIN: 'yes' } }, { restart: false });
    const get = await runBin(['config:get', '-a', 'demo', 'FROM_BIN'], base);
    assert.equal(get.stdout, 'yes\n');
    const missing = await runBin(['config:get', '-a', 'demo', 'NOT_THERE'], base);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_THERE is not set on demo/);
    const untrusted = await runBin(['whoami'], { ...base, NEETODEPLOY_CA_FILE: '' });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /not trusted.*--ca-file/);
  });

  it('login --no-browser stores the token 0600 under NEETODEPLOY_CONFIG_DIR, then XDG_CONFIG_HOME', async function () {
    const configDir = path.join(env.root, 'custom-config');
    const approveFromStderr = (() => {
      let done = false;
      return (text: string): void => {
        const code = /code ([B-Z]{4}-[B-Z]{4})/.exec(text)?.[1];
        if (!code || done) return;
        done = true;
        void approveLoginSession(env.ks.service.context, {
          userCode: code,
          email: ALICE,
          decision: 'approve',
        });
      };
    })();
    const login = await runBin(
      ['login', '--api', env.apiUrl, '--ca-file', env.caFile, '--no-browser'],
      {
        HOME: path.join(env.root, 'h1'),
        NEETODEPLOY_CONFIG_DIR: configDir,
        XDG_CONFIG_HOME: path.join(env.root, 'xdg'),
      },
      { onStderr: approveFromStderr },
    );
    assert.equal(login.code, 0, login.stderr);
    assert.equal(login.stdout, '');
    const creds = path.join(configDir, 'credentials.json');
    assert.equal(fs.statSync(creds).mode & 0o777, 0o600);
    assert.equal(fs.statSync(configDir).mode & 0o777, 0o700);
    assert.equal(fs.existsSync(path.join(env.root, 'xdg')), false);
    const who = await runBin(['whoami'], {
      HOME: path.join(env.root, 'h1'),
      NEETODEPLOY_CONFIG_DIR: configDir,
    });
    assert.equal(who.stdout, `${ALICE}\n`);

    // XDG_CONFIG_HOME when NEETODEPLOY_CONFIG_DIR is not set.
    fs.mkdirSync(path.join(env.root, 'xdg', 'neetodeploy'), { recursive: true });
    fs.copyFileSync(creds, path.join(env.root, 'xdg', 'neetodeploy', 'credentials.json'));
    const xdg2 = await runBin(['whoami'], {
      HOME: path.join(env.root, 'h1'),
      XDG_CONFIG_HOME: path.join(env.root, 'xdg'),
    });
    assert.equal(xdg2.stdout, `${ALICE}\n`);

    const logout = await runBin(['logout'], {
      HOME: path.join(env.root, 'h1'),
      NEETODEPLOY_CONFIG_DIR: configDir,
    });
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(fs.existsSync(creds), false);
    const me = await env.ks.client.request('/api/v1/me', {
      token: JSON.parse(
        fs.readFileSync(path.join(env.root, 'xdg', 'neetodeploy', 'credentials.json'), 'utf8'),
      ).token,
    });
    assert.equal(me.status, 401, 'logout revoked the token server-side');
  });
});
