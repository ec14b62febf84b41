/**
 * Issue 13, keys-service items: each test performs the attack over real HTTPS against a running
 * keys-service and asserts that it fails (and, where it matters, that the same request worked
 * before the defence kicked in, so the test cannot pass by accident).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { hashUserId } from '@neetodeploy/contract';
import {
  encodePublicKeyText,
  generatePrivateKey,
  parseCertificateText,
} from '@neetodeploy/sshcert';
import { Policy, addUserForTests, revokeUser } from '../support/keys-service-internals.js';
import { ALICE, ALICE_PASSWORD, startKeysService } from '../support/keys-service.js';
import type { HttpResult, TestKeysService } from '../support/keys-service.js';

const CERTS = '/api/v1/certificates';

/** SSH wire `string`. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** SSH wire `mpint` of a positive big-endian magnitude. */
function sshMpint(magnitude: Buffer): Buffer {
  let m = magnitude;
  while (m.length > 1 && m[0] === 0) m = m.subarray(1);
  return sshString((m[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m);
}

function ed25519Line(point: Buffer): string {
  return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(point)]).toString('base64')} evil`;
}

/** A real 2048-bit modulus with the exponent replaced. */
function rsaLineWithExponent(e: number): string {
  const { publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n ?? '', 'base64url');
  const eBytes = Buffer.from(
    e
      .toString(16)
      .padStart(2, '0')
      .replace(/^(.(..)*)$/, '0$1'),
    'hex',
  );
  const blob = Buffer.concat([sshString('ssh-rsa'), sshMpint(eBytes), sshMpint(n)]);
  return `ssh-rsa ${blob.toString('base64')} evil`;
}

/** A browser as far as cookies go: remembers Set-Cookie, sends Cookie. */
class CookieJar {
  readonly cookies = new Map<string, string>();

  take(res: HttpResult): void {
    const set = res.headers['set-cookie'] ?? [];
    for (const line of Array.isArray(set) ? set : [set]) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  copy(): CookieJar {
    const jar = new CookieJar();
    for (const [k, v] of this.cookies) jar.cookies.set(k, v);
    return jar;
  }
}

const SESSION_COOKIE = '__Host-nd_session';

async function page(ks: TestKeysService, jar: CookieJar, path: string): Promise<HttpResult> {
  const res = await ks.client.request(path, { headers: { cookie: jar.header() } });
  jar.take(res);
  return res;
}

async function postForm(
  ks: TestKeysService,
  jar: CookieJar,
  path: string,
  fields: Record<string, string>,
): Promise<HttpResult> {
  const res = await ks.client.request(path, {
    method: 'POST',
    rawBody: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
  });
  jar.take(res);
  return res;
}

function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  assert.ok(m, 'the page has a CSRF field');
  return m[1] ?? '';
}

/** Signs in through the real pages; returns the browser's jar and its CSRF token. */
async function signIn(
  ks: TestKeysService,
  password = ALICE_PASSWORD,
): Promise<{ jar: CookieJar; csrf: string }> {
  const jar = new CookieJar();
  const csrf = csrfOf((await page(ks, jar, '/device')).text);
  const res = await postForm(ks, jar, '/device/sign-in', {
    _csrf: csrf,
    code: '',
    email: ALICE,
    password,
  });
  assert.equal(res.status, 303, res.text);
  assert.ok(jar.cookies.has(SESSION_COOKIE), 'signed in');
  return { jar, csrf };
}

async function newLoginSession(
  ks: TestKeysService,
  body: Record<string, string> = {},
): Promise<{ device_code: string; user_code: string }> {
  const res = await ks.client.request('/api/v1/login-sessions', { body });
  assert.equal(res.status, 201);
  return res.json as { device_code: string; user_code: string };
}

/** Tries to approve a fresh CLI login with `jar`; true when the approval went through. */
async function approveWith(ks: TestKeysService, jar: CookieJar, csrf: string): Promise<boolean> {
  const session = await newLoginSession(ks);
  const res = await postForm(ks, jar, '/device/decision', {
    _csrf: csrf,
    user_code: session.user_code,
    decision: 'approve',
  });
  const poll = await ks.client.request('/api/v1/login-sessions/token', {
    body: { device_code: session.device_code },
  });
  const approved = res.status === 200 && poll.status === 200;
  if (!approved) {
    assert.equal(res.status, 303, 'an ended session is sent back to sign in');
    assert.equal((poll.json as { error: { code: string } }).error.code, 'authorization_pending');
  }
  return approved;
}

describe('keys-service under attack (issue 13)', function () {
  this.timeout(60_000);
  let ks: TestKeysService;
  let token: string;

  before(async function () {
    ks = await startKeysService({ config: { limits: { signInPerMinute: 100 } } });
    token = await ks.token(ALICE);
  });
  after(async function () {
    await ks?.dispose();
  });

  describe('item 5: degenerate public keys are not certified', function () {
    const cases: Array<[string, () => string, RegExp]> = [
      [
        'ed25519 identity point',
        () => ed25519Line(Buffer.from([1, ...new Array(31).fill(0)])),
        /small order/,
      ],
      ['ed25519 all zeros', () => ed25519Line(Buffer.alloc(32)), /small order/],
      ['RSA e = 1', () => rsaLineWithExponent(1), /exponent/],
      ['RSA e = 3', () => rsaLineWithExponent(3), /exponent/],
      // The library refuses an even exponent while reading the key, before the strength check.
      ['RSA e = 65536 (even)', () => rsaLineWithExponent(65_536), /exponent|malformed/],
    ];
    for (const [name, line, why] of cases) {
      it(`refuses ${name} with 400 invalid_public_key`, async function () {
        const res = await ks.client.request(CERTS, {
          token,
          body: { app: 'demo', public_key: line() },
        });
        assert.equal(res.status, 400, res.text);
        const error = (res.json as { error: { code: string; message: string } }).error;
        assert.equal(error.code, 'invalid_public_key');
        assert.match(error.message, why);
      });
    }

    it('still certifies a sound ed25519 key and RSA with e = 65537', async function () {
      const ed = encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 'ok');
      for (const publicKey of [ed, rsaLineWithExponent(65_537)]) {
        const res = await ks.client.request(CERTS, {
          token,
          body: { app: 'demo', public_key: publicKey },
        });
        assert.equal(res.status, 201, res.text);
      }
    });
  });

  describe('item 6', function () {
    it('bounds since in ISO form as the relative form is (30 days)', async function () {
      const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
      const res = await ks.client.request(`/api/v1/apps/demo/logs?since=${old}`, { token });
      assert.equal(res.status, 400, res.text);
      assert.equal((res.json as { error: { code: string } }).error.code, 'invalid_since');
      const recent = new Date(Date.now() - 3_600_000).toISOString();
      const ok = await ks.client.request(`/api/v1/apps/demo/logs?since=${recent}`, { token });
      assert.notEqual((ok.json as { error?: { code: string } }).error?.code, 'invalid_since');
    });

    it("applies every matching rule's sourceAddress: the pins are intersected", function () {
      const policy = Policy.parse(`
rules:
  - users: [${ALICE}]
    apps: ["*"]
    permissions: [exec]
    sourceAddress: 10.0.0.0/8,192.168.1.0/24
  - users: [${ALICE}]
    apps: [demo]
    permissions: [logs]
    sourceAddress: 10.1.0.0/16
  - users: [${ALICE}]
    apps: [demo]
    permissions: [config:read]
`);
      const subject = { email: ALICE, groups: [] };
      // Before the fix, the first rule's pin alone applied: 192.168.1.0/24 slipped through.
      assert.equal(policy.grantFor(subject, 'demo').sourceAddress, '10.1.0.0/16');
      assert.equal(policy.grantFor(subject, 'other').sourceAddress, '10.0.0.0/8,192.168.1.0/24');
      const disjoint = Policy.parse(`
rules:
  - users: [${ALICE}]
    apps: [demo]
    permissions: [exec]
    sourceAddress: 10.0.0.0/8
  - users: [${ALICE}]
    apps: [demo]
    permissions: [logs]
    sourceAddress: 192.168.0.0/16
`);
      assert.equal(disjoint.grantFor(subject, 'demo').permissions.size, 0, 'no address fits both');
      assert.throws(() =>
        Policy.parse(
          `rules:\n  - users: [${ALICE}]\n    apps: [demo]\n    permissions: [exec]\n    sourceAddress: 10.0.0/99\n`,
        ),
      );
    });

    it("a certificate carries the intersection of every matching rule's pin (real HTTP)", async function () {
      const erin = 'erin@example.com';
      fs.appendFileSync(
        ks.policyFile,
        `  - users: [${erin}]\n    apps: ["*"]\n    permissions: [exec]\n    sourceAddress: 10.0.0.0/8,192.168.1.0/24\n` +
          `  - users: [${erin}]\n    apps: [demo]\n    permissions: [logs]\n    sourceAddress: 10.1.0.0/16\n`,
      );
      ks.service.context.policy.reload();
      const res = await ks.client.request(CERTS, {
        token: await ks.token(erin),
        body: {
          app: 'demo',
          public_key: encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 'e'),
        },
      });
      assert.equal(res.status, 201, res.text);
      const cert = parseCertificateText((res.json as { certificate: string }).certificate);
      // Before the fix: 10.0.0.0/8,192.168.1.0/24 (the first rule's pin alone).
      assert.equal(cert.criticalOptions['source-address'], '10.1.0.0/16');
    });

    it('revoking a user in any case revokes the user the bundle and tokens know', async function () {
      const carol = 'carol@example.com';
      const carolToken = await ks.token(carol);
      await revokeUser(ks.service.context, 'CAROL@Example.COM');
      assert.equal((await ks.client.request('/api/v1/me', { token: carolToken })).status, 401);
      const bundle = (await ks.client.request('/api/v1/ca')).json as {
        not_before_sha256: Record<string, number>;
      };
      assert.ok(hashUserId(carol) in bundle.not_before_sha256);
    });
  });

  describe('item 7: a copied session cookie dies with its session', function () {
    it('after sign-out', async function () {
      const { jar, csrf } = await signIn(ks);
      const stolen = jar.copy();
      assert.equal(await approveWith(ks, stolen, csrf), true, 'the copy works while signed in');
      assert.equal((await postForm(ks, jar, '/device/sign-out', { _csrf: csrf })).status, 303);
      assert.equal(await approveWith(ks, stolen, csrf), false);
      assert.match((await page(ks, stolen.copy(), '/device')).text, /name="password"/);
    });

    it('after a password change', async function () {
      const { jar, csrf } = await signIn(ks);
      const stolen = jar.copy();
      assert.equal(await approveWith(ks, stolen, csrf), true);
      await addUserForTests(ks.service.context.store, {
        email: ALICE,
        groups: ['dev'],
        password: ALICE_PASSWORD,
      });
      assert.equal(await approveWith(ks, stolen, csrf), false);
      // Signing in again works: only the old sessions ended.
      const again = await signIn(ks);
      assert.equal(await approveWith(ks, again.jar, again.csrf), true);
    });

    it('after revoke --user', async function () {
      const { jar, csrf } = await signIn(ks);
      const stolen = jar.copy();
      assert.equal(await approveWith(ks, stolen, csrf), true);
      await revokeUser(ks.service.context, ALICE);
      assert.equal(await approveWith(ks, stolen, csrf), false);
    });
  });

  describe('item 8: no personal data and no metrics on the public port', function () {
    it('GET /api/v1/ca names revoked users only by hash', async function () {
      const dave = 'dave@example.com';
      await revokeUser(ks.service.context, dave);
      const res = await ks.client.request('/api/v1/ca');
      assert.equal(res.status, 200);
      assert.doesNotMatch(res.text, /@/, 'no e-mail address in the public bundle');
      const body = res.json as { not_before_sha256: Record<string, number> };
      assert.ok(hashUserId(dave) in body.not_before_sha256);
    });

    it('/metrics is not served on the API port, only on the metrics listener', async function () {
      assert.equal((await ks.client.request('/metrics')).status, 404);
      assert.match(await ks.scrapeMetrics(), /neetodeploy_keys_http_requests_total/);
    });
  });

  describe('item 9: re-login revokes the token it replaces', function () {
    it('the previous token stops working once the new one is issued', async function () {
      const old = await ks.token(ALICE);
      assert.equal((await ks.client.request('/api/v1/me', { token: old })).status, 200);
      const { jar, csrf } = await signIn(ks);
      const session = await newLoginSession(ks, { hostname: 'laptop' });
      const decided = await postForm(ks, jar, '/device/decision', {
        _csrf: csrf,
        user_code: session.user_code,
        decision: 'approve',
      });
      assert.equal(decided.status, 200);
      const poll = await ks.client.request('/api/v1/login-sessions/token', {
        body: { device_code: session.device_code, replaces_token: old },
      });
      assert.equal(poll.status, 200, poll.text);
      const fresh = (poll.json as { access_token: string }).access_token;
      assert.equal((await ks.client.request('/api/v1/me', { token: old })).status, 401);
      assert.equal((await ks.client.request('/api/v1/me', { token: fresh })).status, 200);
    });
  });
});
