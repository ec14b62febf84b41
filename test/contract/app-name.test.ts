import assert from 'node:assert/strict';
// Straight from the module that defines it, so this test does not load the platform's backends.
import { APP_NAME_PATTERN as PLATFORM_APP_NAME_PATTERN } from '../../platform/src/types.js';
import {
  APP_NAME_PATTERN,
  APP_NAME_RULE,
  ContractError,
  isAppName,
  parseAppName,
  unwrap,
} from '@neetodeploy/contract';
import { anyString, appName, forSeeds } from './generate.js';

describe('contract: app names (DNS labels)', () => {
  it('accepts DNS labels from 1 to 63 characters', () => {
    for (const name of ['a', '0', 'demo', 'my-app-2', `a${'-'.repeat(61)}b`, 'z'.repeat(63)]) {
      assert.ok(isAppName(name), name);
      assert.equal(unwrap(parseAppName(name)), name);
    }
  });

  it('accepts every generated label, and agrees with the pattern on arbitrary strings', () => {
    forSeeds(2000, (rng) => {
      const valid = appName(rng);
      assert.ok(isAppName(valid), valid);
      const any = anyString(rng);
      assert.equal(parseAppName(any).ok, APP_NAME_PATTERN.test(any), JSON.stringify(any));
    });
  });

  it('refuses anything else with invalid_app_name and the rule', () => {
    for (const name of ['', '-a', 'a-', 'Demo', 'a_b', 'a.b', 'a b', 'é', 'a'.repeat(64)]) {
      const result = parseAppName(name);
      assert.ok(!result.ok, name);
      assert.equal(result.error.code, 'invalid_app_name');
      assert.ok(result.error.message.endsWith(APP_NAME_RULE), result.error.message);
      assert.throws(() => unwrap(result), ContractError);
    }
  });

  it('is the rule the platform checks (one pattern, not a copy)', () => {
    assert.equal(PLATFORM_APP_NAME_PATTERN, APP_NAME_PATTERN);
  });
});
