import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from '../support/openssh.js';
import { ROOT } from '../support/paths.js';
import { ALL_IN_ONE_ARGS, cleanEnv } from './support.js';

function runAllInOne(args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()) {
  return run(process.execPath, [...ALL_IN_ONE_ARGS, ...args], {
    cwd: ROOT,
    env,
    timeoutMs: 60_000,
  });
}

describe('all-in-one: usage errors', function () {
  this.timeout(120_000);
  let dir: string;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-e2e-flags-'));
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a bad port, an unknown flag and a bad admin email with exit 2 and touches nothing', async function () {
    const dataDir = path.join(dir, 'data');
    const [badPort, unknown, badEmail] = await Promise.all([
      runAllInOne(['--data-dir', dataDir, '--api-port', 'eighty']),
      runAllInOne(['--data-dir', dataDir, '--sssh-port', '22']),
      runAllInOne(
        ['--data-dir', dataDir],
        cleanEnv({ NEETODEPLOY_ADMIN_EMAIL: 'not-an-email', NEETODEPLOY_ADMIN_PASSWORD: 'x' }),
      ),
    ]);
    assert.equal(badPort.code, 2, badPort.stderr);
    assert.match(badPort.stderr, /--api-port.*expected a port number from 0 to 65535/);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown option '--sssh-port'/);
    assert.match(unknown.stderr, /--help/);
    assert.equal(badEmail.code, 2, badEmail.stderr);
    assert.match(badEmail.stderr, /admin\.email: an email address/);
    assert.match(badEmail.stderr, /admin\.password: the admin password needs at least 8/);
    for (const r of [badPort, unknown, badEmail]) assert.equal(r.stdout, '');
    assert.equal(fs.existsSync(dataDir), false);
  });

  it('--help explains the flags and the admin variables', async function () {
    const help = await runAllInOne(['--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--data-dir', '--api-port', '--ssh-port', 'NEETODEPLOY_ADMIN_EMAIL']) {
      assert.ok(help.stdout.includes(flag), `${flag} in help:\n${help.stdout}`);
    }
  });

  it('says which flag to change when a port is taken, and leaves no app running', async function () {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const dataDir = path.join(dir, 'busy');
      const r = await runAllInOne([
        '--data-dir',
        dataDir,
        '--api-port',
        String(port),
        '--ssh-port',
        '0',
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`cannot start: port ${port} is already in use: pick another with --api-port`),
      );
      assert.equal(r.stdout, '');
      // The demo app had been started before the API failed: nothing runs in its folder now.
      const demoDir = path.join(dataDir, 'apps', 'demo');
      assert.ok(fs.existsSync(demoDir));
      const inDemo = fs.readdirSync('/proc').filter((entry) => {
        if (!/^\d+$/.test(entry)) return false;
        try {
          return fs.readlinkSync(`/proc/${entry}/cwd`) === demoDir;
        } catch {
          return false;
        }
      });
      assert.deepEqual(inDemo, []);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
