import assert from 'node:assert/strict';
import { ALICE, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import { approveLoginSession } from '../support/keys-service-internals.js';

describe('keys-service login sessions (RFC 8628 shape)', function () {
  let ks: TestKeysService;
  // A frozen clock moved by hand: poll gaps are exact, whatever the machine's load.
  const base = Date.now();
  let offsetMs = 0;

  before(async function () {
    ks = await startKeysService({
      config: { loginSessions: { ttlSeconds: 120, intervalSeconds: 2 } },
      deps: { clock: () => new Date(base + offsetMs) },
    });
  });

  afterEach(function () {
    offsetMs = 0;
  });

  after(async function () {
    await ks?.dispose();
  });

  const create = async (): Promise<{
    device_code: string;
    user_code: string;
    [k: string]: unknown;
  }> => {
    const res = await ks.client.request('/api/v1/login-sessions', {
      body: { hostname: 'laptop.local', client_version: '0.1.0' },
    });
    assert.equal(res.status, 201, res.text);
    return res.json as { device_code: string; user_code: string; [k: string]: unknown };
  };
  const poll = (deviceCode: string) =>
    ks.client.request('/api/v1/login-sessions/token', { body: { device_code: deviceCode } });

  it('creates a session with codes, URIs, interval and expiry', async function () {
    const s = await create();
    assert.match(s.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.ok(s.device_code.length >= 43);
    assert.equal(s.verification_uri, `${ks.address.url}/device`);
    assert.equal(s.verification_uri_complete, `${ks.address.url}/device?code=${s.user_code}`);
    assert.equal(s.interval, 2);
    assert.equal(s.expires_in, 120);
  });

  it('answers pending, then slow_down when polled too fast, then the token once', async function () {
    const s = await create();
    const first = await poll(s.device_code);
    assert.equal(first.status, 400);
    assert.equal(first.json.error.code, 'authorization_pending');
    const fast = await poll(s.device_code);
    assert.equal(fast.json.error.code, 'slow_down');
    assert.equal(fast.json.error.interval, 7);

    await approveLoginSession(ks.service.context, {
      userCode: s.user_code,
      email: ALICE,
      decision: 'approve',
    });
    // The interval grew to 7 s: polling again before that is still too fast.
    offsetMs = 3_000;
    assert.equal((await poll(s.device_code)).json.error.code, 'slow_down');
    offsetMs = 30_000;
    const ok = await poll(s.device_code);
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.json.access_token, /^ndk_[A-Za-z0-9_-]{43}$/);
    assert.equal(ok.json.token_type, 'Bearer');
    assert.equal(ok.json.email, ALICE);
    assert.ok(Date.parse(ok.json.expires_at) > Date.now());

    offsetMs = 60_000;
    const again = await poll(s.device_code);
    assert.equal(again.status, 400);
    assert.equal(
      again.json.error.code,
      'invalid_grant',
      'a device code yields a token at most once',
    );

    offsetMs = 0;
    const me = await ks.client.request('/api/v1/me', { token: ok.json.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.json.email, ALICE);
    assert.equal(me.json.token.client_description, 'neetodeploy 0.1.0 on laptop.local');
  });

  it('yields exactly one token when approved sessions are polled concurrently', async function () {
    const s = await create();
    await approveLoginSession(ks.service.context, {
      userCode: s.user_code,
      email: ALICE,
      decision: 'approve',
    });
    const results = await Promise.all(Array.from({ length: 6 }, () => poll(s.device_code)));
    assert.equal(results.filter((r) => r.status === 200).length, 1);
  });

  it('answers access_denied after a denial', async function () {
    const s = await create();
    await approveLoginSession(ks.service.context, {
      userCode: s.user_code,
      email: ALICE,
      decision: 'deny',
    });
    const res = await poll(s.device_code);
    assert.equal(res.json.error.code, 'access_denied');
    await assert.rejects(
      approveLoginSession(ks.service.context, {
        userCode: s.user_code,
        email: ALICE,
        decision: 'approve',
      }),
      /No pending sign-in/,
    );
  });

  it('answers expired_token after expiry, and refuses approval then', async function () {
    const s = await create();
    offsetMs = 121_000;
    const res = await poll(s.device_code);
    assert.equal(res.json.error.code, 'expired_token');
    await assert.rejects(
      approveLoginSession(ks.service.context, {
        userCode: s.user_code,
        email: ALICE,
        decision: 'approve',
      }),
      /No pending sign-in/,
    );
  });

  it('answers invalid_grant to an unknown device code', async function () {
    const res = await poll('not-a-real-device-code');
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'invalid_grant');
  });

  it('validates bodies strictly', async function () {
    const unknown = await ks.client.request('/api/v1/login-sessions', {
      body: { hostname: 'x', admin: true },
    });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /unknown field\(s\): admin/);
    const badToken = await ks.client.request('/api/v1/login-sessions/token', {
      body: { device_code: 5 },
    });
    assert.equal(badToken.status, 400);
    assert.equal(badToken.json.error.code, 'invalid_request');
    const malformed = await ks.client.request('/api/v1/login-sessions/token', {
      rawBody: 'device_code=abc',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error.code, 'malformed_json');
    const oversized = await ks.client.request('/api/v1/login-sessions', {
      body: { client_description: 'x'.repeat(40_000) },
    });
    assert.equal(oversized.status, 413);
  });

  it('strips control characters from client descriptions', async function () {
    const res = await ks.client.request('/api/v1/login-sessions', {
      body: { client_description: 'evil\u001b[2J\nclient' },
    });
    assert.equal(res.status, 201);
    const poll1 = await poll(res.json.device_code);
    assert.equal(poll1.json.error.code, 'authorization_pending');
    await approveLoginSession(ks.service.context, {
      userCode: res.json.user_code,
      email: ALICE,
      decision: 'approve',
    });
    offsetMs = 10_000;
    const ok = await poll(res.json.device_code);
    offsetMs = 0;
    const me = await ks.client.request('/api/v1/me', { token: ok.json.access_token });
    assert.equal(me.json.token.client_description, 'evil?[2J?client');
  });
});
