import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  API_PATHS,
  PERMISSIONS,
  apiErrorSchema,
  appsSchema,
  caBundleSchema,
  certificateRequestSchema,
  certificateSchema,
  configVarsChangeSchema,
  configVarsSchema,
  decodeVersionTag,
  encodeLogsQuery,
  encodeVersionTag,
  formatLogLine,
  isConfigVarName,
  logLineSchema,
  loginSessionRequestSchema,
  loginSessionSchema,
  loginTokenRequestSchema,
  loginTokenSchema,
  logsQuerySchema,
  meSchema,
  USER_ID_HASH_PATTERN,
  hashUserId,
} from '@neetodeploy/contract';
import type { LogsQuery } from '@neetodeploy/contract';
import { anyString, forSeeds, int, processType } from './generate.js';

const NOW = '2026-11-22T10:00:00.000Z';

describe('contract: API requests (what the keys-service accepts)', () => {
  it('certificates: app, public_key and an optional process type, nothing else', () => {
    const ok = { app: 'demo', public_key: 'ssh-ed25519 AAAA x', process: 'web' };
    assert.deepEqual(certificateRequestSchema.parse(ok), ok);
    const refused: unknown[] = [
      { app: 'Demo', public_key: 'k' },
      { app: 'demo', public_key: '' },
      { app: 'demo', public_key: 'k'.repeat(16_385) },
      { app: 'demo', public_key: 'k', process: 'Web' },
      { app: 'demo', public_key: 'k', pod: 'web.1' },
      { public_key: 'k' },
    ];
    for (const body of refused) {
      assert.equal(certificateRequestSchema.safeParse(body).success, false, JSON.stringify(body));
    }
  });

  it('login sessions: optional client fields within their limits, nothing else', () => {
    assert.deepEqual(loginSessionRequestSchema.parse({}), {});
    assert.ok(loginSessionRequestSchema.safeParse({ hostname: 'h'.repeat(253) }).success);
    assert.ok(!loginSessionRequestSchema.safeParse({ hostname: 'h'.repeat(254) }).success);
    assert.ok(!loginSessionRequestSchema.safeParse({ client_version: '' }).success);
    assert.ok(!loginSessionRequestSchema.safeParse({ email: 'a@b' }).success);
    assert.ok(loginTokenRequestSchema.safeParse({ device_code: 'd' }).success);
    assert.ok(!loginTokenRequestSchema.safeParse({ device_code: 'd', grant_type: 'x' }).success);
    assert.ok(!loginTokenRequestSchema.safeParse({ device_code: '' }).success);
    // Issue 13 item 9: the token a re-login replaces (revoked by the keys-service).
    assert.ok(
      loginTokenRequestSchema.safeParse({ device_code: 'd', replaces_token: 'ndk_x' }).success,
    );
    assert.ok(!loginTokenRequestSchema.safeParse({ device_code: 'd', replaces_token: '' }).success);
  });

  it('config changes: set and unset default to empty, restart is optional, nothing else', () => {
    assert.deepEqual(configVarsChangeSchema.parse({}), { set: {}, unset: [] });
    assert.deepEqual(configVarsChangeSchema.parse({ set: { A: '1' }, restart: false }), {
      set: { A: '1' },
      unset: [],
      restart: false,
    });
    assert.ok(!configVarsChangeSchema.safeParse({ set: { A: 1 } }).success);
    assert.ok(!configVarsChangeSchema.safeParse({ vars: {} }).success);
  });

  it('config var names are environment variable names', () => {
    for (const name of ['A', '_', 'DATABASE_URL', 'a1']) assert.ok(isConfigVarName(name), name);
    for (const name of ['', '1A', 'A-B', 'A B', 'A=B']) assert.ok(!isConfigVarName(name), name);
  });

  it('logs query: encode then parse is the identity, for 2,000 generated queries', () => {
    forSeeds(2000, (rng) => {
      const query: LogsQuery = {
        ...(rng() < 0.5 ? { tail: int(rng, 0, 999_999) } : {}),
        ...(rng() < 0.5 ? { follow: rng() < 0.5 } : {}),
        ...(rng() < 0.5 ? { process: processType(rng) } : {}),
        ...(rng() < 0.5 ? { since: `${anyString(rng)}x`.slice(0, 64) } : {}),
      };
      const params = Object.fromEntries(encodeLogsQuery(query));
      assert.deepEqual(logsQuerySchema.parse(params), query);
    });
  });

  it('logs query: the forms a hand-written URL may use, and refusals', () => {
    assert.deepEqual(logsQuerySchema.parse({ follow: '' }), { follow: true });
    assert.deepEqual(logsQuerySchema.parse({ follow: '1', tail: '10' }), {
      follow: true,
      tail: 10,
    });
    for (const q of [{ tail: '-1' }, { tail: '1e3' }, { follow: 'yes' }, { lines: '1' }]) {
      assert.equal(logsQuerySchema.safeParse(q).success, false, JSON.stringify(q));
    }
  });

  it('config versions travel as entity tags (RFC 9110 etagc characters)', () => {
    forSeeds(500, (rng) => {
      let version = '';
      for (let n = int(rng, 1, 30); n > 0; n--) {
        // etagc: visible ASCII except the double quote.
        const c = int(rng, 0x21, 0x7e);
        version += String.fromCharCode(c === 0x22 ? 0x21 : c);
      }
      assert.equal(decodeVersionTag(encodeVersionTag(version)), version);
    });
    assert.equal(decodeVersionTag('W/"17"'), '17');
    assert.equal(decodeVersionTag('*'), undefined);
    assert.equal(decodeVersionTag(undefined), undefined);
  });

  it('app paths are URL-encoded', () => {
    assert.equal(API_PATHS.config('demo'), '/api/v1/apps/demo/config');
    assert.equal(API_PATHS.logs('a/b'), '/api/v1/apps/a%2Fb/logs');
  });
});

describe('contract: API answers (what the keys-service returns)', () => {
  it('parses each answer as the keys-service writes it, and strips nothing it needs', () => {
    const answers: [{ parse(v: unknown): unknown }, unknown][] = [
      [
        loginSessionSchema,
        {
          device_code: 'dc',
          user_code: 'BCDF-GHJK',
          verification_uri: 'https://k/device',
          verification_uri_complete: 'https://k/device?code=BCDF-GHJK',
          interval: 5,
          expires_in: 600,
        },
      ],
      [
        loginTokenSchema,
        {
          access_token: 't',
          token_type: 'Bearer',
          email: 'alice@example.com',
          expires_at: NOW,
          expires_in: 3600,
        },
      ],
      [
        meSchema,
        {
          email: 'alice@example.com',
          groups: ['dev'],
          token: { expires_at: NOW, created_at: NOW, client_description: 'neetodeploy 0.1.0 on h' },
        },
      ],
      [
        appsSchema,
        {
          apps: [
            { name: 'demo', permissions: [...PERMISSIONS], process_types: ['web'] },
            { name: 'other', permissions: ['logs'] },
          ],
        },
      ],
      [
        certificateSchema,
        {
          certificate: 'ssh-ed25519-cert-v01@openssh.com AAAA',
          serial: '18446744073709551615',
          key_id: 'alice@example.com:Zm9vYmFyYmF6cXV4',
          request_id: 'Zm9vYmFyYmF6cXV4',
          principals: ['demo'],
          valid_after: NOW,
          valid_before: NOW,
          bastion: { host: '127.0.0.1', port: 2222, known_hosts: '@cert-authority x y' },
        },
      ],
      [configVarsSchema, { app: 'demo', vars: { A: '1' }, version: '3' }],
      [
        caBundleSchema,
        {
          user_ca_keys: ['ssh-ed25519 AAAA neetodeploy-user-ca'],
          host_ca_key: 'ssh-ed25519 AAAA neetodeploy-host-ca',
          krl: null,
          not_before_sha256: { [hashUserId('alice@example.com')]: 1763800000 },
          not_before: {},
          generated_at: NOW,
        },
      ],
      [logLineSchema, { time: NOW, source: 'app', process: 'web.1', line: 'hello' }],
      [apiErrorSchema, { error: { code: 'slow_down', message: 'wait', interval: 10 } }],
    ];
    for (const [schema, answer] of answers) assert.deepEqual(schema.parse(answer), answer);
  });

  it('refuses answers that are not the API: a key id that does not decode, a bad time', () => {
    const cert = {
      certificate: 'c',
      serial: '1',
      key_id: 'no-colon',
      request_id: 'r',
      principals: [],
      valid_after: NOW,
      valid_before: NOW,
      bastion: { host: 'h', port: 22, known_hosts: '' },
    };
    assert.equal(certificateSchema.safeParse(cert).success, false);
    assert.equal(
      certificateSchema.safeParse({ ...cert, key_id: 'a:b', valid_after: 'yesterday' }).success,
      false,
    );
    assert.equal(
      appsSchema.safeParse({ apps: [{ name: 'x', permissions: ['root'] }] }).success,
      false,
    );
  });

  it('prints a log line as heroku logs does', () => {
    assert.equal(
      formatLogLine({ time: NOW, source: 'app', process: 'web.1', line: 'hi' }),
      `${NOW} app[web.1]: hi`,
    );
  });
});

describe('contract: user ids in the public CA bundle', () => {
  it('hashes the lower-cased, trimmed email with SHA-256 (hex), so any spelling finds the user', () => {
    const expected = createHash('sha256').update('alice@example.com').digest('hex');
    assert.equal(hashUserId('alice@example.com'), expected);
    assert.equal(hashUserId(' Alice@Example.COM '), expected);
    assert.match(hashUserId('x'), USER_ID_HASH_PATTERN);
  });

  it('refuses a bundle that names a user by email', () => {
    const bundle = {
      user_ca_keys: ['ssh-ed25519 AAAA ca'],
      host_ca_key: 'ssh-ed25519 AAAA host',
      krl: null,
      not_before_sha256: { 'alice@example.com': 1 },
      not_before: {},
      generated_at: '2026-11-22T10:00:00.000Z',
    };
    assert.equal(caBundleSchema.safeParse(bundle).success, false);
    const legacy = { ...bundle, not_before_sha256: {}, not_before: { 'alice@example.com': 1 } };
    assert.equal(caBundleSchema.safeParse(legacy).success, false);
  });
});
