/**
 * The session pages in headless Chromium: after sign-in, an app's sessions are listed and one
 * plays in asciinema-player (served by the keys-service, under a CSP without unsafe-inline);
 * a screenshot of the player shows the recorded text. Without sessions:read, no recording.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RecordingManifest } from '@neetodeploy/recording';
import { ALICE_PASSWORD, startKeysService } from '../support/keys-service.js';
import { waitForValue } from '../support/wait.js';
import type { TestKeysService } from '../support/keys-service.js';
import {
  ALICE,
  BOB,
  SESSIONS_POLICY,
  makeRecordingKey,
  recordSession,
} from './sessions-fixtures.js';
import type { RecordingKeyFiles } from './sessions-fixtures.js';

const BOB_PASSWORD = 'bob password 1';

/**
 * Counts the pixels of a PNG that differ from its most common colour (the background), decoding
 * in the browser: no image library is needed, and a blank region counts 0. Browser code is text
 * here because the tests are type-checked without the DOM library.
 */
const INK_PIXELS = `async (dataUrl) => {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  const data = g.getImageData(0, 0, img.width, img.height).data;
  const counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(rgb, (counts.get(rgb) || 0) + 1);
  }
  let most = 0;
  for (const n of counts.values()) most = Math.max(most, n);
  return data.length / 4 - most;
}`;

async function inkPixels(page: Page, png: Buffer): Promise<number> {
  const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
  const ink = await page.evaluate(`(${INK_PIXELS})(${JSON.stringify(dataUrl)})`);
  assert.equal(typeof ink, 'number');
  return ink as number;
}

describe('keys-service session pages in headless Chromium', function () {
  this.timeout(90_000);
  let ks: TestKeysService;
  let keyFiles: RecordingKeyFiles;
  let browser: Browser;
  let context: BrowserContext;
  let session: RecordingManifest;
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-session-shots-'));

  before(async function () {
    keyFiles = makeRecordingKey();
    ks = await startKeysService({
      policy: SESSIONS_POLICY,
      config: { recording: { publicKeyFile: keyFiles.publicKeyFile } },
    });
    session = await recordSession(path.join(ks.dataDir, 'recordings'), keyFiles.key, {
      command: 'sh -c "echo HELLO-FROM-STDOUT; echo OOPS-ON-STDERR >&2"',
      steps: [{ out: 'HELLO-FROM-STDOUT\r\n' }, { pauseMs: 50 }, { err: 'OOPS-ON-STDERR\r\n' }],
      exit: { code: 1 },
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
    if (keyFiles) fs.rmSync(keyFiles.dir, { recursive: true, force: true });
    fs.rmSync(shots, { recursive: true, force: true });
  });

  const signIn = async (page: Page, email: string, password: string): Promise<void> => {
    await page.goto(`${ks.address.url}/device`);
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('#sign-in');
    await page.waitForSelector('#user_code');
  };

  it('lists the sessions and plays one: the screenshot shows stdout and stderr, no CSP violation', async function () {
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    page.on('pageerror', (e) => violations.push(e.message));

    const before = await page.goto(`${ks.address.url}/device/apps/demo/sessions`);
    assert.equal(before?.status(), 401, 'signed out: no list');

    await signIn(page, ALICE, ALICE_PASSWORD);
    await page.goto(`${ks.address.url}/device/apps/demo/sessions`);
    const row = (await page.textContent('#sessions tbody tr')) ?? '';
    assert.match(row, /echo HELLO-FROM-STDOUT/);
    assert.match(row, new RegExp(ALICE.replace('.', '\\.')));
    assert.match(row, /verified/);

    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('#sessions a.session-link'),
    ]);
    assert.equal(page.url(), `${ks.address.url}/device/sessions/${session.id}`);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    assert.doesNotMatch(csp, /unsafe-inline|https?:/);

    const text = page.locator('#player .ap-term-text');
    await text.waitFor({ timeout: 20_000 });
    // Polled from here: page.waitForFunction re-evaluates its predicate as a string, which the
    // page's CSP (no 'unsafe-eval') refuses whenever the first try is too early.
    const shown = await waitForValue(
      'the player to show the stderr line',
      async () => {
        const t = (await text.textContent()) ?? '';
        return /OOPS-ON-STDERR/.test(t) && t;
      },
      20_000,
      100,
    );
    assert.match(shown, /HELLO-FROM-STDOUT/);
    assert.match(shown, /OOPS-ON-STDERR/);

    // The screenshot shows the text: the terminal lines holding it have ink, an empty one has none.
    const file = path.join(shots, 'player.png');
    await page.locator('#player').screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 1000, 'a real screenshot');
    const lines = page.locator('#player .ap-term-text .ap-line');
    const lineWith = async (re: RegExp): Promise<number> => {
      const all = await lines.allTextContents();
      const i = all.findIndex((l) => re.test(l));
      assert.ok(i >= 0, `a line with ${re}`);
      return i;
    };
    const shotOf = async (i: number): Promise<Buffer> => lines.nth(i).screenshot();
    const hello = await inkPixels(page, await shotOf(await lineWith(/HELLO-FROM-STDOUT/)));
    const oops = await inkPixels(page, await shotOf(await lineWith(/OOPS-ON-STDERR/)));
    const blank = await inkPixels(page, await shotOf((await lines.count()) - 1));
    assert.ok(hello > 100 && oops > 100, `ink: hello ${hello}, oops ${oops}`);
    assert.ok(blank < 10, `an empty line has no ink (${blank})`);
    assert.deepEqual(violations, [], 'no CSP violations or page errors');
  });

  it('refuses the list, the player and the recording without sessions:read', async function () {
    const page = await context.newPage();
    await signIn(page, BOB, BOB_PASSWORD);
    const list = await page.goto(`${ks.address.url}/device/apps/demo/sessions`);
    assert.equal(list?.status(), 403);
    assert.match(
      (await page.textContent('#error')) ?? '',
      /ask an admin for sessions:read on demo/,
    );
    const player = await page.goto(`${ks.address.url}/device/sessions/${session.id}`);
    assert.equal(player?.status(), 403);
    const cast = await page.request.get(
      `${ks.address.url}/device/sessions/${session.id}/recording.cast`,
    );
    assert.equal(cast.status(), 403);
    assert.doesNotMatch(await cast.text(), /HELLO-FROM-STDOUT/);
  });
});
