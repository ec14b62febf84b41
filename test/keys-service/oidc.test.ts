import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CustomFetch } from 'openid-client';
import type { JWTPayload } from 'jose';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import {
  SignInFailed,
  createOidcAuthenticator,
  parseKeysServiceConfig,
} from '../support/keys-service-internals.js';
import type { RedirectAuthenticator } from '../support/keys-service-internals.js';
import { quietLogger, startKeysService } from '../support/keys-service.js';
import type { HttpResult, TestKeysService } from '../support/keys-service.js';
import {
  authorizeAtProvider,
  claimsOf,
  fillProviderLogin,
  startOidcProvider,
} from '../support/oidc-provider.js';
import type { TestOidcProvider } from '../support/oidc-provider.js';

const CLIENT_ID = 'neetodeploy-access';
const CLIENT_SECRET = 'test client secret';
const ALICE = 'alice@example.com';
const UNVERIFIED = 'unverified@example.com';
const OUTSIDER = 'mallory@elsewhere.test';
/** Where the relying-party tests have the provider send codes: nothing listens (port 9). */
const UNSERVED_CALLBACK = 'http://127.0.0.1:9/callback';

const POLICY = `
rules:
  - groups: [deployers]
    apps: [demo]
    permissions: [exec]
`;

describe('keys-service sign-in through OpenID Connect (real oidc-provider, headless Chromium)', function () {
  this.timeout(60_000);
  let idp: TestOidcProvider;
  let ks: TestKeysService;
  let browser: Browser;
  let context: BrowserContext;
  let callbackUrl: string;
  let secretFile: string;
  let aliceToken: string | undefined;

  before(async function () {
    idp = await startOidcProvider();
    idp.accounts.set(ALICE, { email: ALICE, email_verified: true, groups: ['deployers', 'staff'] });
    idp.accounts.set(UNVERIFIED, { email: UNVERIFIED, email_verified: false, groups: [] });
    idp.accounts.set(OUTSIDER, { email: OUTSIDER, email_verified: true, groups: ['deployers'] });
    const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-secret-'));
    secretFile = path.join(secretDir, 'client-secret');
    fs.writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
    ks = await startKeysService({
      users: false,
      policy: POLICY,
      config: {
        loginSessions: { ttlSeconds: 300, intervalSeconds: 1 },
        // Many sign-ins from one address within a minute, by design of this suite.
        limits: { signInPerMinute: 1000 },
        oidc: {
          issuer: idp.issuer,
          clientId: CLIENT_ID,
          clientSecretFile: secretFile,
          scopes: ['openid', 'email', 'groups'],
          allowedEmailDomains: ['example.com'],
          displayName: 'Test IdP',
          groupsMaxAgeSeconds: 0,
        },
      },
    });
    callbackUrl = `${ks.address.url}/device/oidc/callback`;
    await idp.register([
      {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: [callbackUrl, UNSERVED_CALLBACK],
      },
    ]);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  beforeEach(async function () {
    context = await browser.newContext({ ignoreHTTPSErrors: true });
    // The provider's development pages import a web font; nothing leaves this machine.
    await context.route(/^https:\/\/fonts\./, (route) => route.abort());
  });

  afterEach(async function () {
    await context?.close();
  });

  after(async function () {
    await browser?.close();
    await ks?.dispose();
    await idp?.close();
    if (secretFile) fs.rmSync(path.dirname(secretFile), { recursive: true, force: true });
  });

  const startLogin = async (): Promise<{
    device_code: string;
    user_code: string;
    verification_uri_complete: string;
  }> => {
    const res = await ks.client.request('/api/v1/login-sessions', {
      body: { hostname: 'laptop', client_version: '9.9.9' },
    });
    assert.equal(res.status, 201, res.text);
    return res.json as {
      device_code: string;
      user_code: string;
      verification_uri_complete: string;
    };
  };
  const poll = async (deviceCode: string): Promise<HttpResult> => {
    await new Promise((r) => setTimeout(r, 1100));
    return ks.client.request('/api/v1/login-sessions/token', { body: { device_code: deviceCode } });
  };
  const certificateFor = (token: string, app: string): Promise<HttpResult> =>
    ks.client.request('/api/v1/certificates', {
      token,
      body: {
        app,
        public_key: encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 'test'),
      },
    });

  /** The /device page of a login, through the provider, back to the code page. */
  const signInThroughProvider = async (page: Page, url: string, login: string): Promise<void> => {
    await page.goto(url);
    assert.equal(await page.title(), 'Sign in · neetoDeploy');
    assert.match((await page.textContent('#sign-in')) ?? '', /Sign in with Test IdP/);
    await page.click('#sign-in');
    await fillProviderLogin(page, login);
  };

  /** Device flow end to end: sign in at the provider, confirm the code, the CLI's token. */
  const loginAs = async (login: string): Promise<string> => {
    const session = await startLogin();
    const page = await context.newPage();
    await signInThroughProvider(page, session.verification_uri_complete, login);
    await page.waitForSelector('#user_code');
    // Back from the provider, nothing is approved until the user confirms the code.
    assert.equal(await page.inputValue('#user_code'), session.user_code);
    assert.equal((await poll(session.device_code)).json.error.code, 'authorization_pending');
    await page.click('#continue');
    await page.click('#approve');
    assert.match((await page.textContent('#done')) ?? '', /return to your terminal/);
    const token = await poll(session.device_code);
    assert.equal(token.status, 200, token.text);
    return token.json.access_token as string;
  };

  it("signs in at the provider, confirms the code, and the polling CLI gets a token with the claims' user and groups; a group rule grants exec", async function () {
    const token = (aliceToken = await loginAs(ALICE));
    const me = await ks.client.request('/api/v1/me', { token });
    assert.equal(me.json.email, ALICE);
    assert.deepEqual(me.json.groups, ['deployers', 'staff']);
    const cert = await certificateFor(token, 'demo');
    assert.equal(cert.status, 201, cert.text);
    assert.equal((await certificateFor(token, 'other')).status, 403);
    const cookies = await context.cookies();
    assert.ok(cookies.some((c) => c.name === '__Host-nd_session'));
    // The pending sign-in cookie is used once and gone.
    assert.ok(!cookies.some((c) => c.name === '__Host-nd_oidc'));
  });

  it('a user removed from a group at the provider loses the access at their next certificate, without signing in again; added back, regains it', async function () {
    // The token of the previous test (a sign-in of its own when run alone).
    const token = aliceToken ?? (await loginAs(ALICE));
    assert.equal((await certificateFor(token, 'demo')).status, 201);
    idp.accounts.set(ALICE, { email: ALICE, email_verified: true, groups: ['staff'] });
    try {
      // groupsMaxAgeSeconds is 0 here: the next request re-reads the groups at the provider.
      const refused = await certificateFor(token, 'demo');
      assert.equal(refused.status, 403, refused.text);
      const me = await ks.client.request('/api/v1/me', { token });
      assert.deepEqual(me.json.groups, ['staff']);
    } finally {
      idp.accounts.set(ALICE, {
        email: ALICE,
        email_verified: true,
        groups: ['deployers', 'staff'],
      });
    }
    assert.equal((await certificateFor(token, 'demo')).status, 201);
  });

  it('an account deleted at the provider is signed out at its next request, with what to do', async function () {
    const bob = 'bob@example.com';
    idp.accounts.set(bob, { email: bob, email_verified: true, groups: ['deployers'] });
    const token = await loginAs(bob);
    assert.equal((await certificateFor(token, 'demo')).status, 201);
    idp.accounts.delete(bob);
    const refused = await certificateFor(token, 'demo');
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.json.error.code, 'sign_in_ended');
    assert.match(refused.json.error.message, /sign-in at Test IdP has ended.*neetodeploy login/);
  });

  /** Signs in through the pages and returns the failure page's status and message. */
  const failedSignIn = async (
    login: string,
    options: { cancel?: boolean } = {},
  ): Promise<{ status: number; error: string; signedIn: boolean }> => {
    // A context of its own: the provider's session from an earlier try would skip its login.
    const own = await browser.newContext({ ignoreHTTPSErrors: true });
    await own.route(/^https:\/\/fonts\./, (route) => route.abort());
    const page = await own.newPage();
    const response = page.waitForResponse((r) => r.url().startsWith(callbackUrl));
    await page.goto(`${ks.address.url}/device`);
    await page.click('#sign-in');
    await fillProviderLogin(page, login, options);
    const status = (await response).status();
    const error = (await page.textContent('#error')) ?? '';
    const signedIn = (await own.cookies()).some((c) => c.name === '__Host-nd_session');
    await own.close();
    return { status, error, signedIn };
  };

  it('refuses with a clear page: consent denied, e-mail not verified, domain not allowed', async function () {
    const denied = await failedSignIn(ALICE, { cancel: true });
    assert.equal(denied.status, 403);
    assert.match(denied.error, /cancelled at the provider/);

    const unverified = await failedSignIn(UNVERIFIED);
    assert.equal(unverified.status, 403);
    assert.match(unverified.error, /not verified/);

    const outsider = await failedSignIn(OUTSIDER);
    assert.equal(outsider.status, 403);
    assert.match(outsider.error, /not in a domain allowed/);

    // None of them signed the browser in.
    for (const r of [denied, unverified, outsider]) assert.equal(r.signedIn, false);
  });

  it('refuses a callback whose state is not the one this browser was sent with', async function () {
    const page = await context.newPage();
    await page.goto(`${ks.address.url}/device`);
    await page.click('#sign-in');
    await page.waitForSelector('input[name=login]');
    const pending = (await context.cookies()).find((c) => c.name === '__Host-nd_oidc');
    assert.ok(pending);
    const query = new URLSearchParams({ code: 'any', state: 'tampered', iss: idp.issuer });
    const res = await ks.client.request(`/device/oidc/callback?${query.toString()}`, {
      method: 'GET',
      headers: { cookie: `${pending.name}=${pending.value}` },
    });
    assert.equal(res.status, 400);
    assert.match(res.text, /does not belong to this browser or was altered/);
    assert.ok(!String(res.headers['set-cookie'] ?? '').includes('__Host-nd_session'));
  });

  it('refuses a callback without the pending cookie of this browser (another browser, or expired)', async function () {
    const res = await ks.client.request('/device/oidc/callback?code=abc&state=def', {
      method: 'GET',
    });
    assert.equal(res.status, 400);
    assert.match(res.text, /took too long or was started in another browser/);
  });

  it('says so when the provider cannot be reached', async function () {
    const down = await startKeysService({
      users: false,
      policy: POLICY,
      config: {
        oidc: { issuer: 'http://127.0.0.1:9/', clientId: CLIENT_ID, timeoutMs: 2000 },
      },
    });
    try {
      const res = await down.client.request('/device/oidc/start', { method: 'GET' });
      assert.equal(res.status, 502);
      assert.match(res.text, /provider could not be reached/);
    } finally {
      await down.dispose();
    }
  });

  describe("the relying party's checks at the callback (openid-client)", function () {
    /** When set, the token endpoint's ID token is replaced by this function's result. */
    let replaceIdToken: ((claims: JWTPayload) => Promise<string>) | undefined;
    const misbehaving: CustomFetch = async (url, options) => {
      const response = await fetch(url, options);
      if (!replaceIdToken || !new URL(url).pathname.endsWith('/token')) return response;
      const body = (await response.json()) as { id_token: string };
      body.id_token = await replaceIdToken(claimsOf(body.id_token));
      return new Response(JSON.stringify(body), {
        status: response.status,
        headers: { 'content-type': 'application/json' },
      });
    };
    let rp: RedirectAuthenticator;

    before(function () {
      const config = parseKeysServiceConfig({
        dataDir: ks.dataDir,
        oidc: {
          issuer: idp.issuer,
          clientId: CLIENT_ID,
          clientSecretFile: secretFile,
          scopes: ['openid', 'email', 'groups'],
        },
      });
      assert.ok(config.oidc);
      rp = createOidcAuthenticator(config.oidc, {
        users: ks.service.context.store.users,
        logger: quietLogger(),
        fetch: misbehaving,
      });
    });

    // One browser for these tests: after the first sign-in the provider's session answers at once.
    let rpContext: BrowserContext;
    before(async function () {
      rpContext = await browser.newContext();
      await rpContext.route(/^https:\/\/fonts\./, (route) => route.abort());
    });
    after(async function () {
      await rpContext?.close();
    });

    afterEach(function () {
      replaceIdToken = undefined;
    });

    /** A real authorization at the provider: the callback URL and what the RP kept. */
    const authorize = async (): Promise<{
      url: URL;
      pending: Awaited<ReturnType<RedirectAuthenticator['begin']>>['pending'];
    }> => {
      const { authorizationUrl, pending } = await rp.begin(UNSERVED_CALLBACK);
      const url = await authorizeAtProvider(rpContext, authorizationUrl, UNSERVED_CALLBACK, ALICE);
      return { url, pending };
    };
    const refusal = async (promise: Promise<unknown>): Promise<SignInFailed> => {
      try {
        await promise;
      } catch (err) {
        assert.ok(err instanceof SignInFailed, String(err));
        return err;
      }
      assert.fail('expected the sign-in to be refused');
    };
    const causeCode = (err: SignInFailed): unknown => (err.cause as { code?: unknown }).code;

    it('accepts the untouched response, then refuses the same code replayed', async function () {
      const { url, pending } = await authorize();
      const user = await rp.complete(url, pending);
      assert.deepEqual(user, { email: ALICE, groups: ['deployers', 'staff'] });
      const replay = await refusal(rp.complete(url, pending));
      assert.equal(replay.code, 'code_rejected');
    });

    it('refuses a tampered state', async function () {
      const { url, pending } = await authorize();
      url.searchParams.set('state', 'not-the-state');
      const err = await refusal(rp.complete(url, pending));
      assert.equal(err.code, 'state_mismatch');
    });

    it('refuses an ID token with another nonce', async function () {
      const { url, pending } = await authorize();
      const err = await refusal(rp.complete(url, { ...pending, nonce: 'another-nonce' }));
      assert.equal(err.code, 'token_rejected');
      assert.equal(causeCode(err), 'OAUTH_JWT_CLAIM_COMPARISON_FAILED');
      assert.match(err.message, /nonce/);
    });

    it('refuses an ID token for another audience', async function () {
      const { url, pending } = await authorize();
      replaceIdToken = (claims) => idp.signIdToken({ ...claims, aud: 'another-client' });
      const err = await refusal(rp.complete(url, pending));
      assert.equal(err.code, 'token_rejected');
      assert.equal(causeCode(err), 'OAUTH_JWT_CLAIM_COMPARISON_FAILED');
      assert.match(err.message, /aud/);
    });

    it('refuses an expired ID token, beyond the clock tolerance', async function () {
      const { url, pending } = await authorize();
      const now = Math.floor(Date.now() / 1000);
      replaceIdToken = (claims) => idp.signIdToken({ ...claims, iat: now - 3600, exp: now - 120 });
      const err = await refusal(rp.complete(url, pending));
      assert.equal(err.code, 'token_expired');
      assert.match(err.userMessage, /clocks of this service and the provider differ/);
    });

    it('accepts a token that expired within the clock tolerance (30 s)', async function () {
      const { url, pending } = await authorize();
      const now = Math.floor(Date.now() / 1000);
      replaceIdToken = (claims) => idp.signIdToken({ ...claims, iat: now - 600, exp: now - 10 });
      assert.equal((await rp.complete(url, pending)).email, ALICE);
    });

    it('refuses an ID token signed by a key the provider does not publish', async function () {
      const { url, pending } = await authorize();
      replaceIdToken = (claims) => idp.signWithForeignKey(claims);
      const err = await refusal(rp.complete(url, pending));
      assert.equal(err.code, 'token_rejected');
    });
  });
});
