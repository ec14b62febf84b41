/**
 * Issue 12, through the real `neetodeploy` binary: a bastion that closes connections before login
 * (sshd's MaxStartups does this under load, and so does ours) never leaves `exec` hanging or
 * exiting with node's 13 ("unsettled top-level await"); it tries again (5 times in all), and when
 * the bastion cannot be reached at all it exits 255 with one line, like `ssh`.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { ALICE, runBin, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';
import type { Relay } from '../support/tcp-relay.js';

describe('cli: exec when the bastion drops or refuses the connection', function () {
  this.timeout(60_000);
  let env: CliEnv;
  let front: Relay;
  let binEnv: Record<string, string>;

  before(async function () {
    env = await startCliEnv({ bastion: 'pinned', bastionFront: true, runProcesses: true });
    assert.ok(env.front);
    front = env.front;
    binEnv = {
      HOME: path.join(env.root, 'exec-connection'),
      NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    };
  });

  after(async function () {
    await env?.dispose();
  });

  for (const how of ['close', 'reset'] as const) {
    it(`tries again when the bastion ${how}s the connection after its banner, and keeps the exit status`, async function () {
      const before = front.accepted;
      front.closeNext(2, how);
      const res = await runBin(['exec', '-a', 'demo', '--', 'echo s; exit 3'], binEnv);
      assert.equal(res.code, 3, res.stderr);
      assert.equal(res.stdout, 's\n');
      assert.equal(res.stderr, '');
      assert.equal(front.accepted - before, 3, 'two dropped connections, then one that worked');
    });
  }

  it('exits 255 with one line when the bastion keeps closing the connection before login', async function () {
    const before = front.accepted;
    front.closeNext(100);
    const res = await runBin(['exec', '-a', 'demo', '--', 'true'], binEnv);
    front.closeNext(0);
    assert.equal(res.code, 255, res.stderr);
    assert.match(
      res.stderr,
      /^neetodeploy: the bastion 127\.0\.0\.1:\d+ closed the connection before login 5 times \(it may be overloaded\): try again in a moment\n$/,
    );
    assert.equal(front.accepted - before, 5);
  });

  it('exits 255 when nothing listens at the bastion address', async function () {
    await front.close();
    const res = await runBin(['exec', '-a', 'demo', '--', 'true'], binEnv);
    assert.equal(res.code, 255, res.stderr);
    assert.match(
      res.stderr,
      /^neetodeploy: cannot connect to the bastion 127\.0\.0\.1:\d+: connect ECONNREFUSED [^\n]*\n$/,
    );
  });
});
