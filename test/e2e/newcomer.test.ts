/**
 * The newcomer's path of the README, end to end: `npm start`'s all-in-one on free ports, then the
 * CLI exactly as a user types it (spawned from source), a real browser for the sign-in, tmux for
 * the interactive console and stock OpenSSH for `ssh demo.neetodeploy`.
 */
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { run } from '../support/openssh.js';
import { sourceBinArgs, ROOT } from '../support/paths.js';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  cleanEnv,
  descendants,
  isAlive,
  runCli,
  startAllInOne,
  waitForOutput,
} from './support.js';
import type { RunningAllInOne } from './support.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

function httpGet(port: number, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The port the demo app's web.1 listens on, from the local platform's run file. */
function demoPort(dataDir: string): number {
  const runFile = JSON.parse(fs.readFileSync(path.join(dataDir, 'run', 'demo.json'), 'utf8')) as {
    instances: { name: string; port: number }[];
  };
  const web = runFile.instances.find((i) => i.name === 'web.1');
  assert.ok(web, 'demo has a web.1 instance');
  return web.port;
}

describe('e2e: a newcomer’s path through the all-in-one', function () {
  this.timeout(180_000);
  let tmp: string;
  let dataDir: string;
  let configDir: string;
  let server: RunningAllInOne | undefined;
  let cliEnv: NodeJS.ProcessEnv;
  let browser: Browser | undefined;
  const tmuxSocket = `nd-e2e-${process.pid}`;

  const cli = (args: readonly string[], input?: string) =>
    runCli(args, { env: cliEnv, ...(input !== undefined ? { input } : {}) });

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-e2e-'));
    dataDir = path.join(tmp, 'data');
    configDir = path.join(tmp, 'cli-config');
    cliEnv = cleanEnv({ NEETODEPLOY_CONFIG_DIR: configDir, HOME: path.join(tmp, 'home') });
    fs.mkdirSync(path.join(tmp, 'home'), { mode: 0o700 });
    server = await startAllInOne(['--data-dir', dataDir, '--api-port', '0', '--ssh-port', '0'], {
      env: cleanEnv({
        NEETODEPLOY_ADMIN_EMAIL: ADMIN_EMAIL,
        NEETODEPLOY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      }),
    });
  });

  after(async function () {
    await browser?.close();
    try {
      execFileSync('tmux', ['-L', tmuxSocket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // No server was started.
    }
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('prints where things listen, the CA file and the next three commands', function () {
    const { banner } = server!;
    assert.match(banner.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(banner.apiPort, 0);
    assert.notEqual(banner.sshPort, 0);
    assert.equal(banner.caFile, path.join(dataDir, 'tls', 'ca.crt'));
    assert.match(banner.text, new RegExp(`First account:\\s+${ADMIN_EMAIL.replace('.', '\\.')}`));
    // The password came from the environment: it is never echoed.
    assert.ok(!banner.text.includes(ADMIN_PASSWORD));
    assert.deepEqual(banner.commands, [
      `npx neetodeploy login --api ${banner.apiUrl} --ca-file ${banner.caFile}`,
      'npx neetodeploy exec -a demo',
      'npx neetodeploy logs -a demo --tail',
    ]);
    // Logs go to a file; the terminal gets only the banner.
    assert.equal(server!.stderr(), '');
    const log = fs.readFileSync(path.join(dataDir, 'neetodeploy.log'), 'utf8');
    assert.match(log, /"event":"all_in_one.started"/);
    assert.ok(!log.includes(ADMIN_PASSWORD));
  });

  it('made its first-start files with private permissions', function () {
    assert.equal(mode(dataDir), 0o700);
    for (const key of ['ca/user_ca', 'ca/host_ca', 'bastion/ssh_host_ed25519_key', 'tls/ca.key']) {
      assert.equal(mode(path.join(dataDir, key)), 0o600, key);
    }
    assert.equal(mode(path.join(dataDir, 'policy.yaml')), 0o600);
    const policy = fs.readFileSync(path.join(dataDir, 'policy.yaml'), 'utf8');
    assert.ok(policy.includes(ADMIN_EMAIL));
    assert.match(policy, /- "\*"|- '\*'/);
    // The host certificate, checked by OpenSSH itself: host type, signed by the host CA.
    const cert = execFileSync('ssh-keygen', [
      '-L',
      '-f',
      path.join(dataDir, 'bastion', 'ssh_host_ed25519_key-cert.pub'),
    ]).toString();
    assert.match(cert, /Type: ssh-ed25519-cert-v01@openssh.com host certificate/);
    assert.match(cert, /localhost\s+127\.0\.0\.1\s+\*\.neetodeploy/);
    const hostCa = fs.readFileSync(path.join(dataDir, 'ca', 'host_ca.pub'), 'utf8').split(' ')[1];
    const caFp = execFileSync('ssh-keygen', ['-l', '-f', path.join(dataDir, 'ca', 'host_ca.pub')])
      .toString()
      .split(' ')[1];
    assert.ok(hostCa && caFp && cert.includes(`Signing CA: ED25519 ${caFp}`), cert);
  });

  it('refuses a second server on the same data dir', async function () {
    await assert.rejects(
      startAllInOne(['--data-dir', dataDir, '--api-port', '0', '--ssh-port', '0']),
      /exited with 1: .*cannot start: another process \(pid \d+\) already runs the apps/,
    );
  });

  it('logs in with --no-browser through a headless Chromium sign-in', async function () {
    const [, , ...loginArgs] = server!.banner.commands[0]!.split(' ');
    const child = spawn(process.execPath, [...sourceBinArgs('cli'), ...loginArgs, '--no-browser'], {
      cwd: ROOT,
      env: cliEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const m = await waitForOutput(
        () => stderr,
        /shows the code (\S+):\s+(https:\/\/\S+)/,
        30_000,
        'the login URL',
      );
      const [, code, url] = m as unknown as [string, string, string];
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      await page.goto(url);
      await page.fill('#email', ADMIN_EMAIL);
      await page.fill('#password', ADMIN_PASSWORD);
      await page.click('#sign-in');
      await page.waitForSelector('#user_code');
      await page.fill('#user_code', '');
      await page.type('#user_code', code);
      await page.click('#continue');
      await page.click('#approve');
      assert.match((await page.textContent('#done')) ?? '', /return to your terminal/);
      await context.close();
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, new RegExp(`Logged in as ${ADMIN_EMAIL.replace('.', '\\.')}`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('lists the demo app', async function () {
    const r = await cli(['apps']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\bdemo\b/);
  });

  it('sets a config var, shows it, and a console sees it', async function () {
    const set = await cli(['config:set', '-a', 'demo', 'GREETING=hello']);
    assert.equal(set.code, 0, set.stderr);
    const show = await cli(['config', '-a', 'demo']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /GREETING\S*\s+hello/);
    const exec = await cli(['exec', '-a', 'demo', '--', 'printenv', 'GREETING']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'hello\n');
  });

  it('shows recent logs with -n 5', async function () {
    const r = await cli(['logs', '-a', 'demo', '-n', '5']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length >= 1 && lines.length <= 5, r.stdout);
    // Heroku style: time, then the source (app or the platform) and the process.
    for (const line of lines)
      assert.match(line, /^\d{4}-\d\d-\d\dT\S+Z (app|neetodeploy)\[[\w.-]+\]: /);
  });

  it('follows logs with --tail: a request made after it started shows up, Ctrl-C exits 0', async function () {
    const child: ChildProcess = spawn(
      process.execPath,
      [...sourceBinArgs('cli'), 'logs', '-a', 'demo', '--tail', '-n', '1'],
      { cwd: ROOT, env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitForOutput(() => out, /\]: /, 30_000, 'the first log line');
      const marker = `/e2e-${process.pid}-${Date.now()}`;
      // As the README tells a newcomer: ask the running web process for its PORT.
      const portOut = await cli([
        'exec',
        '-a',
        'demo',
        '--process',
        'web',
        '--',
        'printenv',
        'PORT',
      ]);
      assert.equal(portOut.code, 0, portOut.stderr);
      const port = Number(portOut.stdout.trim());
      assert.equal(port, demoPort(dataDir));
      const deadline = Date.now() + 30_000;
      // The demo restarts after config:set; retry until it answers and its line arrives.
      while (!out.includes(marker)) {
        if (Date.now() > deadline) assert.fail(`no line for ${marker}; got:\n${out}\n${err}`);
        await httpGet(port, marker).catch(() => 0);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.match(out, new RegExp(`app\\[web\\.1\\]: method=GET path="${marker}" status=200`));
      child.kill('SIGINT');
      assert.equal(await exited, 0, err);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('opens an interactive console under tmux: prompt, a command, resize, exit code', async function () {
    const exitFile = path.join(tmp, 'exec-exit');
    const envPart = `NEETODEPLOY_CONFIG_DIR=${configDir} HOME=${path.join(tmp, 'home')}`;
    const cmd = [process.execPath, ...sourceBinArgs('cli'), 'exec', '-a', 'demo']
      .map((a) => `'${a}'`)
      .join(' ');
    const tmuxEnv = cleanEnv();
    // Our own server even when the suite itself runs inside tmux.
    delete tmuxEnv.TMUX;
    const tmux = (...args: string[]) =>
      execFileSync('tmux', ['-L', tmuxSocket, ...args], { env: tmuxEnv }).toString();
    tmux(
      'new-session',
      '-d',
      '-s',
      'e2e',
      '-x',
      '100',
      '-y',
      '30',
      `cd '${ROOT}' && env ${envPart} ${cmd}; echo $? > '${exitFile}'; sleep 60`,
    );
    const screen = () => tmux('capture-pane', '-p', '-t', 'e2e');
    await waitForOutput(screen, /^[^\n]*[$#] ?$/m, 40_000, 'the shell prompt');
    tmux('send-keys', '-t', 'e2e', 'echo sum=$((40+2))', 'Enter');
    await waitForOutput(screen, /^sum=42$/m, 10_000, 'the command output');
    tmux('resize-window', '-t', 'e2e', '-x', '120', '-y', '40');
    // The resize reaches the console asynchronously (SIGWINCH, then an SSH window-change).
    const deadline = Date.now() + 15_000;
    while (!/^40 120$/m.test(screen())) {
      if (Date.now() > deadline) assert.fail(`the console never saw 40x120:\n${screen()}`);
      tmux('send-keys', '-t', 'e2e', 'stty size', 'Enter');
      await new Promise((r) => setTimeout(r, 1000));
    }
    tmux('send-keys', '-t', 'e2e', 'exit 3', 'Enter');
    await waitForOutput(
      () => (fs.existsSync(exitFile) ? fs.readFileSync(exitFile, 'utf8') : ''),
      /\d/,
      15_000,
      'the exit code',
    );
    assert.equal(fs.readFileSync(exitFile, 'utf8').trim(), '3');
    tmux('kill-session', '-t', 'e2e');
  });

  it('ssh-config makes stock `ssh demo.neetodeploy` work with StrictHostKeyChecking yes', async function () {
    const r = await cli(['ssh-config']);
    assert.equal(r.code, 0, r.stderr);
    const sshConfig = path.join(tmp, 'ssh_config');
    fs.writeFileSync(sshConfig, r.stdout, { mode: 0o600 });
    const ssh = await new Promise<{ code: number | null; out: string; err: string }>(
      (resolve, reject) => {
        const child = spawn(
          'ssh',
          [
            '-F',
            sshConfig,
            '-o',
            'StrictHostKeyChecking=yes',
            '-o',
            'BatchMode=yes',
            'demo.neetodeploy',
            '--',
            'hostname',
          ],
          { env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out, err });
        });
      },
    );
    assert.equal(ssh.code, 0, ssh.err);
    assert.equal(ssh.out, `${os.hostname()}\n`);
  });

  it('two concurrent config:set both land', async function () {
    const [a, b] = await Promise.all([
      cli(['config:set', '-a', 'demo', 'FIRST=one']),
      cli(['config:set', '-a', 'demo', 'SECOND=two']),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const show = await cli(['config', '-a', 'demo', '--json']);
    assert.equal(show.code, 0, show.stderr);
    const vars = JSON.parse(show.stdout) as Record<string, string>;
    assert.equal(vars.FIRST, 'one');
    assert.equal(vars.SECOND, 'two');
    assert.equal(vars.GREETING, 'hello');
  });

  it('admin commands work on the running data dir: a scripted token drives the CLI', async function () {
    const keys = (args: readonly string[], input = '') =>
      run(process.execPath, [...sourceBinArgs('keys-service'), ...args], {
        cwd: ROOT,
        env: cleanEnv(),
        input,
        timeoutMs: 60_000,
      });
    const added = await keys(
      ['users', 'add', 'ops@example.com', '--password-stdin', '--data-dir', dataDir],
      'ops password 1\n',
    );
    const minted = await keys([
      'tokens',
      'create',
      '--user',
      ADMIN_EMAIL,
      '--ttl',
      '1h',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(minted.code, 0, minted.stderr);
    // Only the token on stdout, so `TOKEN=$(...)` works.
    assert.match(minted.stdout, /^\S+\n$/);
    const r = await runCli(['apps', '--json'], {
      env: cleanEnv({
        HOME: path.join(tmp, 'home'),
        NEETODEPLOY_CONFIG_DIR: path.join(tmp, 'script-config'),
        NEETODEPLOY_TOKEN: minted.stdout.trim(),
        NEETODEPLOY_API_URL: server!.banner.apiUrl,
        NEETODEPLOY_CA_FILE: server!.banner.caFile,
      }),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"demo"/);
  });

  it('stops on Ctrl-C (SIGINT) leaving no process behind, and a restart on the same data dir loses nothing', async function () {
    const before = {
      userCa: fs.readFileSync(path.join(dataDir, 'ca', 'user_ca.pub'), 'utf8'),
      tlsCa: fs.readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8'),
    };
    const { apiPort, sshPort } = server!.banner;
    const children = descendants(server!.child.pid!);
    assert.ok(children.length > 0, 'the demo app runs under the all-in-one');
    const code = await server!.stop('SIGINT');
    server = undefined;
    assert.equal(code, 0);
    const alive = children.filter(isAlive);
    assert.deepEqual(alive, [], 'no child process survives');

    server = await startAllInOne([
      '--data-dir',
      dataDir,
      '--api-port',
      String(apiPort),
      '--ssh-port',
      String(sshPort),
    ]);
    assert.match(
      server.banner.text,
      new RegExp(`Accounts:[^\\n]*${ADMIN_EMAIL.replace('.', '\\.')}`),
    );
    assert.ok(!server.banner.text.includes('First account'));
    assert.equal(fs.readFileSync(path.join(dataDir, 'ca', 'user_ca.pub'), 'utf8'), before.userCa);
    assert.equal(fs.readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8'), before.tlsCa);

    const show = await cli(['config', '-a', 'demo', '--json']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as Record<string, string>).GREETING, 'hello');
    const exec = await cli(['exec', '-a', 'demo', '--', 'printenv', 'GREETING']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'hello\n');

    // SIGTERM as a service manager sends it.
    const pid = server.child.pid!;
    const last = descendants(pid);
    assert.ok(last.length > 0);
    assert.equal(await server.stop('SIGTERM'), 0);
    server = undefined;
    assert.deepEqual(last.filter(isAlive), []);
  });
});
