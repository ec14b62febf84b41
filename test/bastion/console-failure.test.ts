/**
 * When the platform cannot start a console, the user is told what happened and what to do,
 * and the operator's log says what lay under it (a reset, a timeout): the audit line alone
 * carried only the user's message, which left a failure seen in the 2,000-session benchmark
 * without a cause.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Unavailable } from '@neetodeploy/platform';
import { ssh } from '../support/ssh-client.js';
import { startHarness, type Harness } from './harness.js';

describe('bastion: a console the platform cannot start', function () {
  this.timeout(30_000);
  let h: Harness;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        for (const l of c.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    h = await startHarness({ logStream: sink, logLevel: 'info' });
  });
  after(async () => {
    await h?.close();
  });

  it('tells the user to try again and logs the cause for the operator', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    h.platform.openConsole = () =>
      Promise.reject(new Unavailable('the cluster API is unreachable', { cause: reset }));
    const { config } = await h.user('unlucky', {});
    const r = await ssh(config, ['bastion', 'echo SHOULD-NOT-RUN']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /neetodeploy: the cluster API is unreachable/);
    assert.doesNotMatch(r.stdout.toString(), /SHOULD-NOT-RUN/);
    const warn = lines.find((l) => l.level === 40 && l.msg === 'the cluster API is unreachable');
    assert.ok(warn, `no warn line with the cause in ${JSON.stringify(lines.slice(-5))}`);
    assert.equal((warn.err as { code?: string }).code, 'ECONNRESET');
    assert.equal(warn.code, 'unavailable');
    const end = lines.find((l) => l.event === 'session.end' && l.error !== undefined);
    assert.equal(end?.error, 'unavailable: the cluster API is unreachable');
  });
});
