/**
 * Issue 15 through the real `neetodeploy` binary: start-up fast paths that load no heavy module,
 * cached certificates tied to the login, usage errors (exit 2, the flag and the rule), no-ops,
 * `config --shell` read back by `config:set --file`, hints, and Ctrl-C on `logs --tail` in a
 * real terminal (tmux).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { approveLoginSession } from '@neetodeploy/keys-service';
import { ROOT, SOURCE_NODE_ARGS } from '../support/paths.js';
import { TmuxSession } from '../support/ssh-client.js';
import { ALICE, TICKER_PROCFILE, runBin, startCliEnv } from './harness.js';
import type { BinResult, CliEnv } from './harness.js';

/** An ESM resolve hook that appends every resolved URL to $ND_RECORD_IMPORTS. */
const RECORD_HOOK = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import fs from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  fs.appendFileSync(process.env.ND_RECORD_IMPORTS, result.url + '\\\\n');
  return result;
}\`));
`;

const HEAVY = /node_modules\/(commander|zod|ssh2)\/|cli\/src\/(api|cli)\.ts/;

describe('cli: first run as written (issue 15), through the binary', function () {
  let env: CliEnv;
  let hookFile: string;

  before(async function () {
    env = await startCliEnv({
      runProcesses: true,
      extraApps: { ticker: TICKER_PROCFILE, copy: '' },
    });
    hookFile = path.join(env.root, 'record-imports.mjs');
    fs.writeFileSync(hookFile, RECORD_HOOK);
  });

  after(async function () {
    await env?.dispose();
  });

  /** Runs the binary from source with the import recorder; resolves with what it loaded. */
  function runRecorded(
    args: string[],
    extraEnv: Record<string, string>,
  ): Promise<BinResult & { imports: string[] }> {
    const record = path.join(env.root, `imports-${Math.random().toString(36).slice(2)}.txt`);
    fs.writeFileSync(record, '');
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          ...SOURCE_NODE_ARGS,
          '--import',
          pathToFileURL(hookFile).href,
          path.join(ROOT, 'cli', 'src', 'main.ts'),
          ...args,
        ],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            ND_RECORD_IMPORTS: record,
            ...extraEnv,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const imports = fs.readFileSync(record, 'utf8').split('\n').filter(Boolean);
        resolve({ code, stdout, stderr, imports });
      });
    });
  }

  async function tokenEnv(home: string): Promise<Record<string, string>> {
    return {
      HOME: path.join(env.root, home),
      NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    };
  }

  describe('start-up (item 2)', function () {
    it('--version, -v and -V print the version without loading commander, zod, ssh2 or the HTTP client', async function () {
      for (const flag of ['--version', '-v', '-V']) {
        const res = await runRecorded([flag], { HOME: path.join(env.root, 'v-home') });
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /^\d+\.\d+\.\d+\n$/);
        assert.ok(res.imports.length > 0, 'the recorder saw the imports');
        assert.deepEqual(
          res.imports.filter((u) => HEAVY.test(u)),
          [],
        );
      }
      const sub = await runBin(['config', '-V'], { HOME: path.join(env.root, 'v-home') });
      assert.equal(sub.code, 2, 'a version flag after a command is an unknown option there');
    });

    it('ssh-cert with a valid cached certificate loads no heavy module and keeps the certificate', async function () {
      const config = env.config('fast-cert');
      await env.loginAs(config, ALICE);
      const home = config.home;
      const vars = { HOME: home, NEETODEPLOY_CONFIG_DIR: config.dir };
      const certFile = path.join(config.keysDir, 'demo.neetodeploy-cert.pub');
      const first = await runBin(['ssh-cert', 'demo.neetodeploy'], vars);
      assert.equal(first.code, 0, first.stderr);
      const cert = fs.readFileSync(certFile, 'utf8');
      assert.match(cert, / neetodeploy-credentials:[0-9a-f]{16}\n$/);
      const cached = await runRecorded(['ssh-cert', 'demo.neetodeploy'], vars);
      assert.equal(cached.code, 0, cached.stderr);
      assert.equal(cached.stderr, '');
      assert.deepEqual(
        cached.imports.filter((u) => HEAVY.test(u)),
        [],
      );
      assert.equal(fs.readFileSync(certFile, 'utf8'), cert, 'still valid: kept');
    });
  });

  describe('cached certificates follow the login (item 3)', function () {
    it('a new login makes ssh-cert renew; a refused certificate is removed', async function () {
      const config = env.config('relogin');
      await env.loginAs(config, ALICE);
      const vars = { HOME: config.home, NEETODEPLOY_CONFIG_DIR: config.dir };
      const certFile = path.join(config.keysDir, 'demo.neetodeploy-cert.pub');
      await runBin(['ssh-cert', 'demo.neetodeploy'], vars);
      const before = fs.readFileSync(certFile, 'utf8');

      // Another login (a new token) while the old certificate is still valid.
      await env.loginAs(config, ALICE);
      const renewed = await runBin(['ssh-cert', 'demo.neetodeploy'], vars);
      assert.equal(renewed.code, 0, renewed.stderr);
      const after = fs.readFileSync(certFile, 'utf8');
      assert.notEqual(after, before, 'issued again under the new login');
      assert.notEqual(after.split(' ')[2], before.split(' ')[2], 'tagged with the new credentials');

      // The keys-service refuses (the token is no longer valid): no certificate is left for ssh.
      const refused = await runBin(['ssh-cert', 'demo.neetodeploy'], {
        ...vars,
        NEETODEPLOY_TOKEN: 'ndk_not-a-real-token',
        NEETODEPLOY_API_URL: env.apiUrl,
      });
      assert.equal(refused.code, 0, 'ssh-cert always exits 0');
      assert.match(refused.stderr, /no certificate for demo\.neetodeploy: NEETODEPLOY_TOKEN/);
      assert.equal(fs.existsSync(certFile), false);
    });

    it('login through the binary removes the certificates cached under the previous login', async function () {
      const config = env.config('login-clears');
      await env.loginAs(config, ALICE);
      const vars = { HOME: config.home, NEETODEPLOY_CONFIG_DIR: config.dir };
      await runBin(['ssh-cert', 'demo.neetodeploy'], vars);
      const certFile = path.join(config.keysDir, 'demo.neetodeploy-cert.pub');
      assert.ok(fs.existsSync(certFile));
      const bastionRecord = path.join(config.keysDir, 'demo.neetodeploy-bastion.json');
      assert.ok(fs.existsSync(bastionRecord));
      const login = await loginThroughBinary(['login', '--no-browser'], vars);
      assert.equal(login.code, 0, login.stderr);
      assert.equal(fs.existsSync(certFile), false);
      assert.equal(fs.existsSync(bastionRecord), false);
      assert.ok(fs.existsSync(path.join(config.keysDir, 'demo.neetodeploy')), 'the key is kept');
    });
  });

  /** Runs a login through the binary and approves it as ALICE when the code shows. */
  function loginThroughBinary(args: string[], vars: Record<string, string>): Promise<BinResult> {
    let approved = false;
    return runBin(args, vars, {
      onStderr: (text) => {
        const code = /code ([B-Z]{4}-[B-Z]{4})/.exec(text)?.[1];
        if (!code || approved) return;
        approved = true;
        void approveLoginSession(env.ks.service.context, {
          userCode: code,
          email: ALICE,
          decision: 'approve',
        });
      },
    });
  }

  describe('usage errors and messages (item 5)', function () {
    const cases: [string[], RegExp][] = [
      [['config', '-a', 'DEMO'], /-a\/--app: "DEMO" is not an app name: app names are DNS labels/],
      [['config', '-a', ''], /-a\/--app: "" is not an app name/],
      [['logs', '-a', 'demo', '-p', 'WEB'], /-p\/--process: "WEB" is not a process type/],
      [
        ['logs', '-a', 'demo', '-n', '10001'],
        /-n\/--num: "10001" is not a number of lines from 0 to 10000/,
      ],
      [['config:get', '-a', 'demo', 'bad key'], /KEY: "bad key" is not a valid config var name/],
      [['config:unset', '-a', 'demo', 'bad-key'], /KEY: "bad-key" is not a valid config var name/],
      [['config', '-a', 'demo', '--json', '--shell'], /--json and --shell/],
      [['config:set', '-a', 'demo'], /KEY=VALUE: nothing to set/],
    ];
    for (const [argv, message] of cases) {
      it(`${argv.join(' ')} exits 2 naming the flag and the rule`, async function () {
        const res = await runBin(argv, await tokenEnv('usage'));
        assert.equal(res.code, 2, res.stderr);
        assert.match(res.stderr, message);
      });
    }

    it('a 40 KB value is shortened in the message', async function () {
      const res = await runBin(
        ['config:set', '-a', 'demo', `bad key=${'x'.repeat(40_000)}`],
        await tokenEnv('usage'),
      );
      assert.equal(res.code, 2);
      assert.ok(res.stderr.length < 300, `short: ${res.stderr.length} characters`);
      assert.match(res.stderr, /\(40008 characters\)/);
    });

    it('config:unset of a key that is not set says so, and neither changes nor restarts the app', async function () {
      await env.platform.updateConfigVars('demo', { set: { KEEP: '1' } }, { restart: false });
      const before = await env.platform.getConfigVars('demo');
      const res = await runBin(['config:unset', '-a', 'demo', 'NOPE'], await tokenEnv('unset'));
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stderr, 'NOPE is not set on demo: nothing to do.\n');
      assert.doesNotMatch(res.stderr, /restarting/);
      assert.equal((await env.platform.getConfigVars('demo')).version, before.version);
    });

    it('config:set of values already set says so, and neither changes nor restarts the app', async function () {
      await env.platform.updateConfigVars('demo', { set: { SAME: 'x' } }, { restart: false });
      const before = await env.platform.getConfigVars('demo');
      const vars = await tokenEnv('set-same');
      const res = await runBin(['config:set', '-a', 'demo', 'SAME=x', '--no-restart'], vars);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stderr, 'SAME already has that value on demo: nothing to do.\n');
      assert.equal((await env.platform.getConfigVars('demo')).version, before.version);
      const mixed = await runBin(
        ['config:set', '-a', 'demo', 'SAME=x', 'OTHER=y', '--no-restart'],
        vars,
      );
      assert.equal(mixed.code, 0, mixed.stderr);
      assert.match(
        mixed.stderr,
        /^SAME already has that value on demo\.\nSetting OTHER on demo\.\.\. done/,
      );
      assert.equal((await env.platform.getConfigVars('demo')).vars.OTHER, 'y');
    });
  });

  describe('config --shell | config:set --file (item 4)', function () {
    it('round-trips multi-line values, quotes, $, #, unicode and trailing blanks exactly, through a file and stdin', async function () {
      const vars: Record<string, string> = {
        PEM: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n',
        QUOTES: `it's "quoted" and 'single'`,
        DOLLAR: '$HOME ${PATH} $(id) `id`',
        HASH: 'a # not a comment',
        UNICODE: 'héllo ✓ 日本語',
        TRAILING: 'trailing  ',
        LEADING: '  leading',
        EMPTY: '',
        BACKSLASH: 'C:\\path\\ and \\n',
        CRLF: 'a\r\nb',
      };
      await env.platform.updateConfigVars('demo', { set: vars }, { restart: false });
      const base = await tokenEnv('roundtrip');
      const shell = await runBin(['config', '-a', 'demo', '--shell'], base);
      assert.equal(shell.code, 0, shell.stderr);
      const file = path.join(env.root, 'x.env');
      fs.writeFileSync(file, shell.stdout);

      const viaFile = await runBin(
        ['config:set', '-a', 'copy', '--file', file, '--no-restart'],
        base,
      );
      assert.equal(viaFile.code, 0, viaFile.stderr);
      const demo = (await env.platform.getConfigVars('demo')).vars;
      assert.deepEqual((await env.platform.getConfigVars('copy')).vars, demo);

      await env.platform.updateConfigVars('copy', { unset: Object.keys(demo) }, { restart: false });
      const viaStdin = await runBin(
        ['config:set', '-a', 'copy', '--file', '-', '--no-restart'],
        base,
        { input: shell.stdout },
      );
      assert.equal(viaStdin.code, 0, viaStdin.stderr);
      assert.deepEqual((await env.platform.getConfigVars('copy')).vars, demo);
      for (const [k, v] of Object.entries(vars)) assert.equal(demo[k], v, k);
    });
  });

  describe('hints (item 6)', function () {
    it('a refused NEETODEPLOY_TOKEN is told to unset or replace it, not to log in', async function () {
      const res = await runBin(['apps'], {
        HOME: path.join(env.root, 'bad-token'),
        NEETODEPLOY_TOKEN: 'ndk_not-a-real-token',
        NEETODEPLOY_API_URL: env.apiUrl,
        NEETODEPLOY_CA_FILE: env.caFile,
      });
      assert.equal(res.code, 4);
      assert.match(res.stderr, /NEETODEPLOY_TOKEN was refused \(invalid API token\): unset it/);
      assert.doesNotMatch(res.stderr, /run `neetodeploy login`/);
    });

    it('connection hints name no --api on commands without it; login --help names ca.crt', async function () {
      const res = await runBin(['apps'], {
        HOME: path.join(env.root, 'moved'),
        NEETODEPLOY_TOKEN: 'x',
        NEETODEPLOY_API_URL: 'https://127.0.0.1:1',
      });
      assert.equal(res.code, 1);
      // The address came from the environment: that is what to change, not the login.
      assert.match(res.stderr, /If it moved, set NEETODEPLOY_API_URL to its new address/);
      const help = await runBin(['login', '--help'], { HOME: path.join(env.root, 'moved') });
      assert.match(help.stdout, /--ca-file \.neetodeploy-data\/tls\/ca\.crt/);
      assert.doesNotMatch(help.stdout, /ca\.pem/);
    });

    it('logout keeps the API address, so the next login needs no --api', async function () {
      const config = env.config('relogin-api');
      await env.loginAs(config, ALICE);
      const vars = { HOME: config.home, NEETODEPLOY_CONFIG_DIR: config.dir };
      const logout = await runBin(['logout'], vars);
      assert.equal(logout.code, 0, logout.stderr);
      const login = await loginThroughBinary(['login', '--no-browser'], vars);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stderr, new RegExp(`Logged in as ${ALICE} on ${env.apiUrl}`));
      const who = await runBin(['whoami'], vars);
      assert.equal(who.stdout, `${ALICE}\n`);
    });
  });

  describe('Heroku-style extras', function () {
    it('-a comes from NEETODEPLOY_APP, else from the git remote named neetodeploy', async function () {
      await env.platform.updateConfigVars('copy', { set: { WHERE: 'copy' } }, { restart: false });
      await env.platform.updateConfigVars('demo', { set: { WHERE: 'demo' } }, { restart: false });
      const base = await tokenEnv('default-app');
      const fromEnv = await runBin(['config:get', 'WHERE'], { ...base, NEETODEPLOY_APP: 'copy' });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.equal(fromEnv.stdout, 'copy\n');

      const repo = path.join(env.root, 'repo');
      fs.mkdirSync(path.join(repo, '.git'), { recursive: true });
      fs.mkdirSync(path.join(repo, 'sub'));
      fs.writeFileSync(
        path.join(repo, '.git', 'config'),
        '[core]\n\tbare = false\n[remote "origin"]\n\turl = git@github.com:me/other.git\n[remote "neetodeploy"]\n\turl = https://git.example.com/demo.git\n\tfetch = +refs/heads/*:refs/remotes/neetodeploy/*\n',
      );
      const fromGit = await runBin(['config:get', 'WHERE'], base, { cwd: path.join(repo, 'sub') });
      assert.equal(fromGit.code, 0, fromGit.stderr);
      assert.equal(fromGit.stdout, 'demo\n');
      const explicit = await runBin(['config:get', '-a', 'copy', 'WHERE'], base, {
        cwd: path.join(repo, 'sub'),
      });
      assert.equal(explicit.stdout, 'copy\n', '-a wins');
      const none = await runBin(['config:get', 'WHERE'], base);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /required option '-a, --app <app>' not specified/);
    });

    it('login --with-token reads the token on stdin; auth status tells who, offline', async function () {
      const config = env.config('with-token');
      const vars = { HOME: config.home, NEETODEPLOY_CONFIG_DIR: config.dir };
      const none = await runBin(['auth', 'status'], vars);
      assert.equal(none.code, 4);
      assert.match(none.stderr, /not logged in/);
      const token = await env.ks.token(ALICE);
      const login = await runBin(
        ['login', '--with-token', '--api', env.apiUrl, '--ca-file', env.caFile],
        vars,
        { input: `${token}\n` },
      );
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stderr, new RegExp(`Logged in as ${ALICE}`));
      const status = await runBin(['auth', 'status'], vars);
      assert.equal(status.code, 0, status.stderr);
      assert.match(
        status.stderr,
        new RegExp(`Logged in as ${ALICE} on ${env.apiUrl}, token valid until `),
      );
      const asJson = await runBin(['auth', 'status', '--json'], vars);
      assert.equal(JSON.parse(asJson.stdout).email, ALICE);
      const bad = await runBin(['login', '--with-token'], vars, { input: 'ndk_nope\n' });
      assert.equal(bad.code, 4);
      const empty = await runBin(['login', '--with-token'], vars, { input: '' });
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /--with-token: give one API token on stdin/);
    });
  });

  describe('completion', function () {
    it("completion bash completes commands (with colons), subcommands and each command's flags", async function () {
      const script = await runBin(['completion', 'bash'], { HOME: path.join(env.root, 'comp') });
      assert.equal(script.code, 0, script.stderr);
      const file = path.join(env.root, 'completion.bash');
      fs.writeFileSync(file, script.stdout);
      const complete = (line: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const child = spawn(
            'bash',
            [
              '-c',
              'source "$1"; COMP_LINE="$2"; COMP_POINT=${#2}; _neetodeploy; echo "${COMPREPLY[*]}"',
              'x',
              file,
              line,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('error', reject);
          child.on('close', () => resolve(out.trim()));
        });
      assert.equal(await complete('neetodeploy con'), 'config config:get config:set config:unset');
      assert.equal(await complete('neetodeploy config:u'), 'unset');
      assert.equal(await complete('neetodeploy auth '), 'status');
      assert.match(
        await complete('neetodeploy logs --'),
        /--app --tail --num --process --since --json/,
      );
      assert.doesNotMatch(await complete('neetodeploy logs --'), /--follow/);
      const zsh = await runBin(['completion', 'zsh'], { HOME: path.join(env.root, 'comp') });
      assert.match(zsh.stdout, /^#compdef neetodeploy\n/);
      assert.match(zsh.stdout, /'config\\:get:print one config var'/);
      const fish = await runBin(['completion', 'fish'], { HOME: path.join(env.root, 'comp') });
      assert.equal(fish.code, 2);
      assert.match(fish.stderr, /SHELL: "fish" is not one of bash, zsh/);
    });
  });

  describe('logs (item 9 and extras)', function () {
    it('Ctrl-C on logs --tail in a terminal exits 0 and the next output starts on a new line', async function () {
      this.timeout(60_000);
      const base = await tokenEnv('tmux');
      const envArgs = Object.entries(base).map(([k, v]) => `${k}='${v}'`);
      const node = [
        process.execPath,
        ...SOURCE_NODE_ARGS,
        path.join(ROOT, 'cli', 'src', 'main.ts'),
      ];
      const command = `cd '${ROOT}' && env ${envArgs.join(' ')} ${node.map((a) => `'${a}'`).join(' ')} logs -a ticker -f -n 1; echo "[exit=$?]"`;
      const tmux = await TmuxSession.start(['bash', '-c', command]);
      try {
        // -n 1 then -f: more than one line means it is still following.
        await tmux.waitFor(/(app\[web\.1\]: tick \d+\n[\s\S]*?){3}/, 20_000);
        assert.doesNotMatch(await tmux.screen(), /\[exit=/, 'still following');
        await tmux.send('C-c');
        const screen = await tmux.waitFor(/\[exit=\d+\]/, 10_000);
        assert.match(screen, /^\[exit=0\]$/m, screen);
        assert.doesNotMatch(screen, /\^C\[exit/, screen);
      } finally {
        await tmux.kill();
      }
    });

    it('-p web.1 keeps only that instance', async function () {
      const res = await runBin(
        ['logs', '-a', 'ticker', '-p', 'web.1', '-n', '5'],
        await tokenEnv('inst'),
      );
      assert.equal(res.code, 0, res.stderr);
      const lines = res.stdout.trim().split('\n');
      assert.ok(lines.length > 0);
      for (const line of lines) assert.match(line, / app\[web\.1\]: tick \d+$/);
    });
  });
});
