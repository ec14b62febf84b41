/**
 * `/metrics` labels every request with the route pattern the router matched. The routes are
 * read from the running app's router, so a route added without a case here fails this test.
 */
import assert from 'node:assert/strict';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import { UNMATCHED_ROUTE } from '../support/keys-service-internals.js';
import { ALICE, metricSample, startKeysService } from '../support/keys-service.js';
import type { RequestOptions, TestKeysService } from '../support/keys-service.js';

const REQUESTS = 'neetodeploy_keys_http_requests_total';
/** A session id no recording has (the label is the point, not the answer). */
const SESSION_ID = '00000000-0000-4000-8000-000000000000';

interface RouteCase {
  /** A concrete path the route pattern matches. */
  readonly path: string;
  readonly options?: (
    ks: TestKeysService,
    token: string,
  ) => RequestOptions | Promise<RequestOptions>;
}

const withToken =
  (extra: RequestOptions = {}) =>
  (_ks: TestKeysService, token: string): RequestOptions => ({ token, ...extra });

/** One request per route, keyed `METHOD pattern`; any answer will do, the label is the point. */
const CASES: Record<string, RouteCase> = {
  'GET /healthz': { path: '/healthz' },
  'GET /readyz': { path: '/readyz' },
  'GET /': { path: '/' },
  'POST /api/v1/login-sessions': {
    path: '/api/v1/login-sessions',
    options: () => ({ body: { hostname: 'laptop' } }),
  },
  'POST /api/v1/login-sessions/token': {
    path: '/api/v1/login-sessions/token',
    options: () => ({ body: { device_code: 'nope' } }),
  },
  'GET /api/v1/me': { path: '/api/v1/me', options: withToken() },
  'DELETE /api/v1/tokens/current': {
    path: '/api/v1/tokens/current',
    // A token of its own: revoking the shared one would fail the later cases.
    options: async (ks) => ({ method: 'DELETE', token: await ks.token(ALICE) }),
  },
  'GET /api/v1/apps': { path: '/api/v1/apps', options: withToken() },
  'POST /api/v1/certificates': {
    path: '/api/v1/certificates',
    options: withToken({
      body: {
        app: 'demo',
        public_key: encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 't@l'),
      },
    }),
  },
  'GET /api/v1/ca': { path: '/api/v1/ca' },
  'GET /api/v1/apps/:app/config': { path: '/api/v1/apps/demo/config', options: withToken() },
  'PATCH /api/v1/apps/:app/config': {
    path: '/api/v1/apps/demo/config',
    options: withToken({ method: 'PATCH', body: { set: { A: '1' } } }),
  },
  'GET /api/v1/apps/:app/logs': { path: '/api/v1/apps/demo/logs', options: withToken() },
  'GET /api/v1/apps/:app/processes': {
    path: '/api/v1/apps/demo/processes',
    options: withToken(),
  },
  'GET /api/v1/apps/:app/sessions': { path: '/api/v1/apps/demo/sessions', options: withToken() },
  'GET /api/v1/sessions/:id/recording': {
    path: `/api/v1/sessions/${SESSION_ID}/recording`,
    options: withToken(),
  },
  'GET /device/style.css': { path: '/device/style.css' },
  'GET /device/assets/asciinema-player.min.js': { path: '/device/assets/asciinema-player.min.js' },
  'GET /device/assets/asciinema-player.css': { path: '/device/assets/asciinema-player.css' },
  'GET /device/assets/session-player.js': { path: '/device/assets/session-player.js' },
  'GET /device/assets/sessions.css': { path: '/device/assets/sessions.css' },
  'GET /device/apps/:app/sessions': { path: '/device/apps/demo/sessions' },
  'GET /device/sessions/:id': { path: `/device/sessions/${SESSION_ID}` },
  'GET /device/sessions/:id/recording.cast': {
    path: `/device/sessions/${SESSION_ID}/recording.cast`,
  },
  'GET /device': { path: '/device' },
  'POST /device/sign-in': { path: '/device/sign-in', options: () => ({ rawBody: 'x=1' }) },
  'POST /device/code': { path: '/device/code', options: () => ({ rawBody: 'x=1' }) },
  'POST /device/decision': { path: '/device/decision', options: () => ({ rawBody: 'x=1' }) },
  'POST /device/sign-out': { path: '/device/sign-out', options: () => ({ rawBody: 'x=1' }) },
};

/** Requests counted for this method and route, whatever their status. */
function countFor(metrics: string, method: string, route: string): number {
  const statuses = new Set(
    [...metrics.matchAll(new RegExp(`^${REQUESTS}\\{.*status="(\\d+)"`, 'gm'))].map((m) => m[1]!),
  );
  let total = 0;
  for (const status of statuses)
    total += metricSample(metrics, REQUESTS, { method, route, status });
  return total;
}

describe('keys-service /metrics route labels', function () {
  let ks: TestKeysService;
  let token: string;

  before(async function () {
    ks = await startKeysService();
    token = await ks.token(ALICE);
  });

  after(async function () {
    await ks?.dispose();
  });

  it('has a case here for every route the router serves', function () {
    const served = ks.service.routes().map((r) => `${r.method} ${r.route}`);
    assert.ok(served.includes('PATCH /api/v1/apps/:app/config'), 'the router is read');
    const missing = served.filter((key) => !(key in CASES));
    assert.deepEqual(missing, [], 'routes without a case in CASES');
    const stale = Object.keys(CASES).filter((key) => !served.includes(key));
    assert.deepEqual(stale, [], 'cases for routes that no longer exist');
  });

  for (const [key, routeCase] of Object.entries(CASES)) {
    const [method, route] = key.split(' ') as [string, string];
    it(`labels ${key} with route="${route}"`, async function () {
      const options = (await routeCase.options?.(ks, token)) ?? {};
      const before = await ks.scrapeMetrics();
      const res = await ks.client.request(routeCase.path, { method, ...options });
      const after = await ks.scrapeMetrics();
      const counted = countFor(after, method, route) - countFor(before, method, route);
      assert.equal(counted, 1, `answered ${res.status}: ${res.text}`);
      assert.equal(
        metricSample(after, REQUESTS, { method, route, status: String(res.status) }) > 0,
        true,
      );
    });
  }

  it(`labels requests no route matched as route="${UNMATCHED_ROUTE}"`, async function () {
    const before = await ks.scrapeMetrics();
    const paths = ['/nope', '/api/v1/nope', '/api/v1/apps/demo/other', '/device/nope'];
    for (const path of paths) assert.equal((await ks.client.request(path)).status, 404);
    // A known path with a method it does not serve matches no route either.
    assert.equal((await ks.client.request('/api/v1/certificates', { token })).status, 404);
    const after = await ks.scrapeMetrics();
    const delta = (labels: Record<string, string>): number =>
      metricSample(after, REQUESTS, labels) - metricSample(before, REQUESTS, labels);
    assert.equal(delta({ method: 'GET', route: UNMATCHED_ROUTE, status: '404' }), 5);
    assert.doesNotMatch(after, /route="\/nope"|route="\/api\/v1\/nope"/);
  });
});
