import assert from 'node:assert/strict';
import {
  ContractError,
  PROCESS_TYPE_PATTERN,
  VIRTUAL_HOST_SUFFIX,
  certificateRequestSchema,
  encodeSshUser,
  encodeVirtualHost,
  parseSshUser,
  parseVirtualHost,
  sshTargetForVirtualHost,
} from '@neetodeploy/contract';
import type { SshTarget } from '@neetodeploy/contract';
import { anyString, appName, forSeeds, int, podName, processType } from './generate.js';
import type { Rng } from './generate.js';

type TargetField = keyof SshTarget;

/**
 * One target per field of SshTarget, each setting that field. A field added to SshTarget
 * without a sample here fails the type-check; one the codec drops fails the round trip.
 */
const TARGET_PER_FIELD: Record<TargetField, SshTarget> = {
  app: { app: 'demo' },
  process: { app: 'demo', process: 'web' },
  pod: { app: 'demo', pod: 'web.1' },
};

function target(rng: Rng): SshTarget {
  const app = appName(rng);
  switch (int(rng, 0, 2)) {
    case 0:
      return { app };
    case 1:
      return { app, process: processType(rng) };
    default:
      return { app, pod: podName(rng) };
  }
}

function parsed(userName: string): SshTarget {
  const result = parseSshUser(userName);
  if (!result.ok) throw result.error;
  return result.value;
}

function refusal(userName: string): ContractError {
  const result = parseSshUser(userName);
  assert.ok(!result.ok, `${JSON.stringify(userName)} should be refused`);
  return result.error;
}

describe('contract: SSH user names (APP[:PROCESS|:pod=NAME])', () => {
  it('reads the three forms of docs/identity.md', () => {
    assert.deepEqual(parsed('demo'), { app: 'demo' });
    assert.deepEqual(parsed('demo:web'), { app: 'demo', process: 'web' });
    assert.deepEqual(parsed('demo:pod=web.1'), { app: 'demo', pod: 'web.1' });
  });

  it('round-trips every field of the target, and the parsed value has no other field', () => {
    for (const [field, sample] of Object.entries(TARGET_PER_FIELD)) {
      assert.notEqual(sample[field as TargetField], undefined, `the ${field} sample sets ${field}`);
      const back = parsed(encodeSshUser(sample));
      assert.deepEqual(back, sample);
      assert.deepEqual(Object.keys(back).sort(), Object.keys(sample).sort());
    }
  });

  it('encode then parse gives the same target, for 3,000 generated targets', () => {
    forSeeds(3000, (rng) => {
      const t = target(rng);
      assert.deepEqual(parsed(encodeSshUser(t)), t);
    });
  });

  it('parse then encode gives the same name, for every generated name it accepts', () => {
    let accepted = 0;
    forSeeds(3000, (rng) => {
      const name = rng() < 0.5 ? encodeSshUser(target(rng)) : anyString(rng);
      const result = parseSshUser(name);
      if (!result.ok) {
        assert.ok(result.error instanceof ContractError);
        assert.ok(result.error.message.length > 0);
        return;
      }
      accepted++;
      assert.equal(encodeSshUser(result.value), name);
    });
    assert.ok(accepted > 1000, `only ${accepted} names accepted: the generator is off`);
  });

  it('refuses bad names with a code and a message that says what is wrong', () => {
    const cases: [string, string, RegExp][] = [
      ['', 'invalid_user_name', /use APP, APP:PROCESS or APP:pod=NAME/],
      ['Demo', 'invalid_user_name', /DNS labels/],
      ['-demo:web', 'invalid_user_name', /does not name an app/],
      ['demo:', 'invalid_process', /not a process type/],
      ['demo:Web', 'invalid_process', /lower-case/],
      ['demo:web:1', 'invalid_process', /not a process type/],
      ['demo:pod=', 'invalid_pod', /not a pod name/],
      ['demo:pod=web_1', 'invalid_pod', /not a pod name/],
      [`demo:${'w'.repeat(64)}`, 'invalid_process', /not a process type/],
      [`demo:pod=${'p'.repeat(254)}`, 'invalid_pod', /not a pod name/],
    ];
    for (const [name, code, message] of cases) {
      const error = refusal(name);
      assert.equal(error.code, code, name);
      assert.match(error.message, message, name);
    }
  });

  it('will not encode a name the bastion would read back differently', () => {
    const cases: [Parameters<typeof encodeSshUser>[0], string][] = [
      [{ app: 'Demo' }, 'invalid_app_name'],
      [{ app: 'demo', process: 'web', pod: 'web.1' }, 'invalid_user_name'],
      [{ app: 'demo', process: 'pod=x' }, 'invalid_process'],
      [{ app: 'demo', pod: 'a:b' }, 'invalid_pod'],
    ];
    for (const [t, code] of cases) {
      assert.throws(
        () => encodeSshUser(t),
        (err: unknown) => err instanceof ContractError && err.code === code,
        JSON.stringify(t),
      );
    }
  });

  it('uses the process-type rule the certificate request checks', () => {
    forSeeds(500, (rng) => {
      const process = rng() < 0.5 ? processType(rng) : anyString(rng);
      const accepted = certificateRequestSchema.safeParse({
        app: 'demo',
        public_key: 'k',
        process,
      }).success;
      assert.equal(accepted, PROCESS_TYPE_PATTERN.test(process), process);
    });
  });
});

describe('contract: virtual hosts (APP.neetodeploy)', () => {
  it('round-trips generated app names; host names are read case-insensitively', () => {
    forSeeds(1000, (rng) => {
      const app = appName(rng);
      const host = encodeVirtualHost(app);
      assert.equal(host, `${app}${VIRTUAL_HOST_SUFFIX}`);
      assert.deepEqual(parseVirtualHost(host), { ok: true, value: app });
      assert.deepEqual(parseVirtualHost(host.toUpperCase()), { ok: true, value: app });
    });
  });

  it('honours another suffix', () => {
    assert.equal(encodeVirtualHost('demo', '.apps.example'), 'demo.apps.example');
    assert.deepEqual(parseVirtualHost('demo.apps.example', '.apps.example'), {
      ok: true,
      value: 'demo',
    });
  });

  it('refuses hosts that are not APP.neetodeploy', () => {
    for (const host of ['demo', '.neetodeploy', 'a_b.neetodeploy', 'demo.neetodeploy.evil', '']) {
      const result = parseVirtualHost(host);
      assert.ok(!result.ok, host);
      assert.equal(result.error.code, 'invalid_virtual_host');
      assert.match(result.error.message, /is not APP\.neetodeploy/);
    }
    assert.throws(() => encodeVirtualHost('a.b'), ContractError);
  });

  it('takes the user name as a selector only when it names the same app', () => {
    assert.deepEqual(sshTargetForVirtualHost('demo', 'demo:web'), { app: 'demo', process: 'web' });
    assert.deepEqual(sshTargetForVirtualHost('demo', 'demo:pod=web.1'), {
      app: 'demo',
      pod: 'web.1',
    });
    assert.deepEqual(sshTargetForVirtualHost('demo', 'demo'), { app: 'demo' });
    // Stock ssh sends the local user name; another app's name must not widen the target.
    assert.deepEqual(sshTargetForVirtualHost('demo', 'alice'), { app: 'demo' });
    assert.deepEqual(sshTargetForVirtualHost('demo', 'other:web'), { app: 'demo' });
  });
});
