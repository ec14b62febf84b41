import assert from 'node:assert/strict';
import { parseSshUser } from '@neetodeploy/contract';
import { appOfHost } from '../../cli/src/app-certificates.js';
import { bastionUsername } from '../../cli/src/commands/exec.js';
import { UsageError } from '../../cli/src/errors.js';

describe('cli: the names exec and ssh-cert send follow the contract', () => {
  it('exec builds the user name the bastion parses back to the same target', () => {
    for (const target of [
      { app: 'demo' },
      { app: 'demo', process: 'web' },
      { app: 'demo', pod: 'web.1' },
    ]) {
      assert.deepEqual(parseSshUser(bastionUsername(target)), { ok: true, value: target });
    }
  });

  it('a name the bastion would not accept is a usage error saying why', () => {
    assert.throws(
      () => bastionUsername({ app: 'demo', pod: 'Web_1' }),
      (err: unknown) => err instanceof UsageError && /not a pod name/.test(err.message),
    );
  });

  it('ssh-cert reads APP.neetodeploy, in any case, and refuses other hosts', () => {
    assert.equal(appOfHost('Demo.NeetoDeploy'), 'demo');
    assert.throws(() => appOfHost('demo.example.com'), /is not APP\.neetodeploy/);
  });
});
