import assert from 'node:assert/strict';
import { startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';

describe('keys-service rate limits', function () {
  let ks: TestKeysService;

  before(async function () {
    ks = await startKeysService({
      users: false,
      config: { limits: { signInPerMinute: 3, codeEntryPerMinute: 2, loginSessionsPerMinute: 2 } },
    });
  });

  after(async function () {
    await ks?.dispose();
  });

  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  it('limits sign-in attempts per address', async function () {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await ks.client.request('/device/sign-in', {
        rawBody: 'email=a%40b.c&password=x&_csrf=y',
        headers: form,
      });
      statuses.push(res.status);
    }
    // The first three reach the CSRF check (403); the fourth never gets that far.
    assert.deepEqual(statuses, [403, 403, 403, 429]);
  });

  it('limits code entry per address', async function () {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await ks.client.request('/device/code', {
        rawBody: 'user_code=BBBBBBBB&_csrf=y',
        headers: form,
      });
      statuses.push(res.status);
    }
    assert.equal(statuses[2], 429);
  });

  it('limits login session creation per address', async function () {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await ks.client.request('/api/v1/login-sessions', { body: {} })).status);
    assert.deepEqual(statuses, [201, 201, 429]);
    const res = await ks.client.request('/api/v1/login-sessions', { body: {} });
    assert.equal(res.json.error.code, 'rate_limited');
  });
});
