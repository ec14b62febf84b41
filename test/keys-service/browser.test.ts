import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext } from 'playwright-core';
import { ALICE, ALICE_PASSWORD, startKeysService } from '../support/keys-service.js';
import type { HttpResult, TestKeysService } from '../support/keys-service.js';

describe('keys-service /device pages in headless Chromium', function () {
  this.timeout(60_000);
  let ks: TestKeysService;
  let browser: Browser;
  let context: BrowserContext;

  // chromium.launch gives every run a fresh temporary profile and deletes it on close.
  before(async function () {
    ks = await startKeysService({
      config: { loginSessions: { ttlSeconds: 300, intervalSeconds: 1 } },
    });
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
  });

  afterEach(async function () {
    await context?.close();
  });

  after(async function () {
    await browser?.close();
    await ks?.dispose();
  });

  const startLogin = async (): Promise<{
    device_code: string;
    user_code: string;
    verification_uri_complete: string;
  }> => {
    const res = await ks.client.request('/api/v1/login-sessions', {
      body: { hostname: 'build-box', client_version: '9.9.9' },
    });
    assert.equal(res.status, 201);
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

  it('signs in, confirms the code, and the polling client gets its token; wrong password and code do not', async function () {
    const login = await startLogin();
    const page = await context.newPage();
    await page.goto(login.verification_uri_complete);
    assert.equal(await page.title(), 'Sign in · neetoDeploy');

    await page.fill('#email', ALICE);
    await page.fill('#password', 'not the password');
    await page.click('#sign-in');
    assert.match((await page.textContent('#error')) ?? '', /Wrong email or password/);
    assert.equal((await poll(login.device_code)).json.error.code, 'authorization_pending');

    await page.fill('#password', ALICE_PASSWORD);
    await page.click('#sign-in');
    await page.waitForSelector('#user_code');
    // The link prefilled the code, but nothing is approved until the user confirms it.
    assert.equal(await page.inputValue('#user_code'), login.user_code);
    assert.equal((await poll(login.device_code)).json.error.code, 'authorization_pending');

    await page.fill('#user_code', 'BBBB-BBBB');
    await page.click('#continue');
    assert.match((await page.textContent('#error')) ?? '', /No pending sign-in has that code/);
    assert.equal((await poll(login.device_code)).json.error.code, 'authorization_pending');

    await page.fill('#user_code', login.user_code.toLowerCase().replace('-', ' '));
    await page.click('#continue');
    await page.waitForSelector('#approve');
    assert.equal((await page.textContent('#client'))?.trim(), 'neetodeploy 9.9.9 on build-box');
    assert.equal((await page.textContent('#confirm-code'))?.trim(), login.user_code);
    await page.click('#approve');
    assert.match((await page.textContent('#done')) ?? '', /return to your terminal/);

    const token = await poll(login.device_code);
    assert.equal(token.status, 200);
    assert.equal(token.json.email, ALICE);
    const me = await ks.client.request('/api/v1/me', { token: token.json.access_token });
    assert.equal(me.json.email, ALICE);

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === '__Host-nd_session');
    assert.ok(session);
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Lax');
  });

  it('denies when the user clicks Deny', async function () {
    const login = await startLogin();
    const page = await context.newPage();
    await page.goto(login.verification_uri_complete);
    await page.fill('#email', ALICE);
    await page.fill('#password', ALICE_PASSWORD);
    await page.click('#sign-in');
    await page.click('#continue');
    await page.click('#deny');
    assert.match((await page.textContent('#done')) ?? '', /not connected/);
    assert.equal((await poll(login.device_code)).json.error.code, 'access_denied');
  });

  it('refuses POSTs without a valid CSRF token, and sends a strict CSP', async function () {
    const login = await startLogin();
    const page = await context.newPage();
    const response = await page.goto(`${ks.address.url}/device`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await page.fill('#email', ALICE);
    await page.fill('#password', ALICE_PASSWORD);
    await page.click('#sign-in');
    await page.waitForSelector('#user_code');

    // Same browser, signed in, cookies sent: only the token is missing or wrong.
    const missing = await page.request.post(`${ks.address.url}/device/decision`, {
      form: { user_code: login.user_code, decision: 'approve' },
    });
    assert.equal(missing.status(), 403);
    const forged = await page.request.post(`${ks.address.url}/device/decision`, {
      form: { _csrf: 'forged', user_code: login.user_code, decision: 'approve' },
    });
    assert.equal(forged.status(), 403);
    const signIn = await page.request.post(`${ks.address.url}/device/sign-in`, {
      form: { email: ALICE, password: ALICE_PASSWORD, code: '' },
    });
    assert.equal(signIn.status(), 403);
    assert.equal((await poll(login.device_code)).json.error.code, 'authorization_pending');
  });
});
