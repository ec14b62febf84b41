/**
 * A console must not own the installation: from an app's console (the platform's exec API, and
 * stock OpenSSH `ssh` through the bastion) the data dir's CA key and policy, another app's
 * files and config vars, and the environment of other processes are out of reach, while the
 * app's own folder works as before. Run for each isolation this host can do: a uid per app
 * (the server runs as root) and the bubblewrap sandbox (forced here, as on a non-root server).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { LocalPlatform, LocalPlatformConfigInput } from '@neetodeploy/platform';
import { createBastion, parseBastionConfig, type Bastion } from '@neetodeploy/bastion';
import { within } from '../support/platform-conformance.js';
import { makeKey, signCert, ssh, writeSshConfig } from '../support/ssh-client.js';
import { silent, tempDataDir, useLocalPlatforms, writeApp } from './local-harness.js';
import { waitForValue } from '../support/wait.js';

const CA_SECRET = 'isolation-test-user-ca';
const POLICY = 'users:\n  - email: admin@example.com\n    apps: ["*"]\n';
const BILLING_SECRET = 'billing-secret-value-7f3a';
const FILE_SECRET = 'billing-private-file-91c2';

/** The layout of an all-in-one data dir: the keys-service's CA and policy beside the apps. */
function installation(dataDir: string): void {
  fs.mkdirSync(path.join(dataDir, 'ca'), { mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, 'ca', 'user_ca'), `${CA_SECRET}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(dataDir, 'policy.yaml'), POLICY, { mode: 0o600 });
  writeApp(dataDir, 'demo', 'web: exec sleep 1000\n');
  const billing = writeApp(dataDir, 'billing', 'web: exec sleep 1000\n');
  fs.writeFileSync(path.join(billing, 'secret.txt'), `${FILE_SECRET}\n`);
}

/**
 * Each attack prints `LEAK <name>` when it worked. `$1` is the data dir, `$2` the server's pid,
 * `$3` the pid of the other app's running process.
 */
const ATTACKS = [
  ['ca-key', 'cat ../../ca/user_ca'],
  ['ca-key-absolute', 'cat "$1/ca/user_ca"'],
  ['policy-read', 'cat ../../policy.yaml'],
  ['policy-write', 'echo "  - email: mallory@example.com" >> ../../policy.yaml'],
  // A sandbox shows the path down to the app's folder, but nothing else of the data dir.
  ['data-dir-listing', 'ls -A "$1" | grep -qv "^apps$"'],
  ['other-app-file', 'cat ../billing/secret.txt'],
  ['other-app-listing', 'ls ../billing | grep -q .'],
  ['other-app-config-vars', 'cat "$1/config-vars/billing.json"'],
  ['server-environment', 'cat "/proc/$2/environ"'],
  ['other-app-environment', 'cat "/proc/$3/environ"'],
  ['signal-the-server', 'kill -0 "$2"'],
] as const;

const ATTACK_SCRIPT = ATTACKS.map(
  ([name, command]) => `if ${command} 2>/dev/null; then echo "LEAK ${name}"; fi`,
).join('; ');

/** What still works: the app's folder by relative path, by HOME and by absolute path. */
const OWN_FOLDER_SCRIPT = [
  'echo written > mine.txt && cat mine.txt',
  'cd ~ && cat Procfile',
  'cat "$1/apps/demo/mine.txt"',
  'echo "home=$HOME pwd=$(pwd)"',
].join('\n');

async function run(
  platform: LocalPlatform,
  command: string,
): Promise<{ out: string; status: unknown }> {
  const console = await platform.openConsole('demo', {
    command,
    sessionId: 'isolation-test',
    user: 'mallory@example.com',
  });
  console.stdin.end();
  const chunks: Buffer[] = [];
  console.stdout.on('data', (c: Buffer) => chunks.push(c));
  console.stderr.on('data', (c: Buffer) => chunks.push(c));
  const status = await within(10_000, console.done, command);
  return { out: Buffer.concat(chunks).toString(), status };
}

/** `sh -c SCRIPT sh ARGS...`, quoted for the console's `sh -c`. */
function withArgs(script: string, args: readonly (string | number)[]): string {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return `sh -c ${quote(script)} sh ${args.map((a) => quote(String(a))).join(' ')}`;
}

async function billingPid(platform: LocalPlatform, dataDir: string): Promise<number> {
  return waitForValue(
    'the billing app running',
    async () => {
      const processes = await platform.listProcesses('billing');
      if (processes[0]?.state !== 'running') return undefined;
      const file = path.join(dataDir, 'run', 'billing.json');
      const record = JSON.parse(fs.readFileSync(file, 'utf8')) as { instances: { pid?: number }[] };
      return record.instances[0]?.pid;
    },
    5000,
  );
}

function canRun(mode: 'user' | 'sandbox'): boolean {
  if (mode === 'user') return process.getuid?.() === 0;
  return fs.existsSync('/usr/bin/bwrap');
}

for (const mode of ['user', 'sandbox'] as const) {
  describe(`local platform isolation: ${mode}`, function () {
    this.timeout(30_000);
    const { make, dispose } = useLocalPlatforms();
    const dataDir = tempDataDir();
    let platform: LocalPlatform;
    let victimPid: number;

    before(async function () {
      if (!canRun(mode)) this.skip();
      installation(dataDir);
      const config: Partial<LocalPlatformConfigInput> = { isolation: mode };
      platform = await make(dataDir, config);
      await platform.updateConfigVars('billing', { set: { BILLING_SECRET } });
      victimPid = await billingPid(platform, dataDir);
    });
    after(async () => {
      await dispose(dataDir);
    });

    it('a console reads no CA key, policy, other app or other process, and writes no policy', async () => {
      const { out } = await run(
        platform,
        withArgs(ATTACK_SCRIPT, [dataDir, process.pid, victimPid]),
      );
      assert.equal(out.match(/LEAK .*/g)?.join(', ') ?? '', '');
      for (const secret of [CA_SECRET, BILLING_SECRET, FILE_SECRET, 'admin@example.com']) {
        assert.ok(!out.includes(secret), `the console saw ${secret}:\n${out}`);
      }
      assert.equal(fs.readFileSync(path.join(dataDir, 'policy.yaml'), 'utf8'), POLICY);
    });

    it("the app's own processes cannot read them either", async () => {
      const leaks = path.join(platform.appDir('demo'), 'leaks.txt');
      const script = `${ATTACK_SCRIPT}; echo done`;
      fs.writeFileSync(
        path.join(platform.appDir('demo'), 'Procfile'),
        `web: ${withArgs(script, [dataDir, process.pid, victimPid])} > leaks.txt; exec sleep 1000\n`,
      );
      await platform.rescan();
      const text = await waitForValue(
        'the attack script to finish',
        () => {
          const t = fs.existsSync(leaks) ? fs.readFileSync(leaks, 'utf8') : '';
          return t.includes('done') ? t : undefined;
        },
        5000,
      );
      assert.equal(text.trim(), 'done');
    });

    it('the app folder still works: relative paths, HOME, its absolute path', async () => {
      const { out, status } = await run(platform, withArgs(OWN_FOLDER_SCRIPT, [dataDir]));
      assert.deepEqual(status, { code: 0 }, out);
      const appDir = platform.appDir('demo');
      const procfile = fs.readFileSync(path.join(appDir, 'Procfile'), 'utf8');
      assert.equal(out, `written\n${procfile}written\nhome=${appDir} pwd=${appDir}\n`);
    });
  });
}

describe('local platform isolation: user, consoles started together', function () {
  this.timeout(60_000);
  const { make, dispose } = useLocalPlatforms();
  const dataDir = tempDataDir();
  after(async () => dispose(dataDir));

  // Each spawn binds the app's passwd file; a second instance (as the all-in-one's servers are)
  // or a second first spawn rewriting it made the bind fail with ENOENT now and then.
  it('runs every console of two platform instances on one data dir, first use included', async function () {
    if (!canRun('user')) this.skip();
    installation(dataDir);
    const platforms = [
      await make(dataDir, { isolation: 'user' }),
      await make(dataDir, { isolation: 'user', runProcesses: false }),
    ];
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => run(platforms[i % 2]!, 'id -un')),
    );
    for (const r of results) assert.equal(r.out.trim(), 'nd-demo', r.out);
  });
});

describe('local platform isolation: user, a data dir with a space and a backslash', function () {
  this.timeout(30_000);
  const { make, dispose } = useLocalPlatforms();
  const dataDir = path.join(tempDataDir(), 'my data\\dir');
  after(async () => dispose(dataDir));

  // The mounts are one fstab (mount -a), whose fields end at a space unless escaped.
  it('hides the data dir and keeps the app folder working', async function () {
    if (!canRun('user')) this.skip();
    fs.mkdirSync(dataDir);
    installation(dataDir);
    const platform = await make(dataDir, { isolation: 'user', runProcesses: false });
    const own = await run(platform, withArgs(OWN_FOLDER_SCRIPT, [dataDir]));
    const appDir = platform.appDir('demo');
    const procfile = fs.readFileSync(path.join(appDir, 'Procfile'), 'utf8');
    assert.equal(own.out, `written\n${procfile}written\nhome=${appDir} pwd=${appDir}\n`);
    const attacks = await run(platform, withArgs(ATTACK_SCRIPT, [dataDir, process.pid, 1]));
    assert.doesNotMatch(attacks.out, /LEAK/);
  });
});

describe('local platform isolation: none (what the attacks do without it)', function () {
  this.timeout(30_000);
  const { make, dispose } = useLocalPlatforms();
  const dataDir = tempDataDir();
  after(async () => {
    await dispose(dataDir);
  });

  it('reads the CA key and appends to the policy', async () => {
    installation(dataDir);
    const platform = await make(dataDir, { isolation: 'none', runProcesses: false });
    const { out } = await run(platform, withArgs(ATTACK_SCRIPT, [dataDir, process.pid, 0]));
    assert.match(out, /LEAK ca-key\n/);
    assert.match(out, /LEAK policy-write\n/);
    assert.notEqual(fs.readFileSync(path.join(dataDir, 'policy.yaml'), 'utf8'), POLICY);
  });
});

describe('local platform isolation through the bastion (OpenSSH ssh)', function () {
  this.timeout(30_000);
  const { make, dispose } = useLocalPlatforms();
  const dataDir = tempDataDir();
  let bastion: Bastion | undefined;
  let config: string;

  before(async function () {
    if (!canRun('user') && !canRun('sandbox')) this.skip();
    installation(dataDir);
    // The real thing: the bastion trusts the user CA whose private key sits in the data dir.
    const keys = path.join(dataDir, 'ca');
    fs.rmSync(path.join(keys, 'user_ca'));
    const [userCa, hostCa, hostKey, user] = await Promise.all([
      makeKey(keys, 'user_ca'),
      makeKey(keys, 'host_ca'),
      makeKey(keys, 'ssh_host_ed25519_key'),
      makeKey(keys, 'mallory'),
    ]);
    const platform = await make(dataDir, { runProcesses: false });
    const hostCert = await signCert(hostCa, hostKey, {
      keyId: 'bastion',
      principals: ['bastion.test'],
      host: true,
      validity: '-5m:+1h',
    });
    const cert = await signCert(userCa, user, {
      keyId: 'mallory@example.com:r1',
      principals: ['demo'],
    });
    bastion = createBastion(
      parseBastionConfig({
        listen: { host: '127.0.0.1', port: 0 },
        name: 'bastion.test',
        hostKeys: [{ privateKeyFile: hostKey.file, certificateFile: hostCert }],
        trust: { static: { userCaKeyFiles: [`${userCa.file}.pub`] } },
      }),
      { platform, logger: silent },
    );
    const { ssh: address } = await bastion.start();
    const knownHosts = path.join(keys, 'known_hosts');
    fs.writeFileSync(knownHosts, `@cert-authority bastion.test ${hostCa.publicKey}\n`);
    config = await writeSshConfig(path.join(keys, 'ssh_config'), {
      port: address.port,
      identity: user.file,
      certificate: cert,
      knownHosts,
      bastionName: 'bastion.test',
    });
  });
  after(async () => {
    await bastion?.stop();
    await dispose(dataDir);
  });

  it('`ssh demo@bastion cat ../../ca/user_ca` prints no key; a policy line appended does not land', async () => {
    const key = await ssh(config, ['bastion', 'cat ../../ca/user_ca']);
    assert.notEqual(key.code, 0);
    assert.doesNotMatch(key.stdout.toString(), /PRIVATE KEY/);
    const append = await ssh(config, [
      'bastion',
      'echo "  - email: m@example.com" >> ../../policy.yaml',
    ]);
    assert.notEqual(append.code, 0);
    assert.equal(fs.readFileSync(path.join(dataDir, 'policy.yaml'), 'utf8'), POLICY);
    const own = await ssh(config, ['bastion', 'echo ok > mine.txt && cat ~/mine.txt']);
    assert.equal(own.stdout.toString(), 'ok\n', own.stderr.toString());
  });
});
