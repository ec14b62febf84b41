/**
 * `POST /api/v1/certificates`, the endpoint on every `neetodeploy exec` and `ssh`: its answers'
 * headers, metrics, body rules and client IPs, under concurrency and with clients that go away
 * mid-body.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import { ALICE, jsonOrUndefined, metricSample, startKeysService } from '../support/keys-service.js';
import type { HttpResult, TestKeysService } from '../support/keys-service.js';

const PATH = '/api/v1/certificates';
const LIMIT = 16_384;

function clientKey(): string {
  return encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 'test@laptop');
}

interface RawOptions {
  readonly agent: https.Agent;
  readonly headers?: Record<string, string>;
  /** Written one per turn, without Content-Length unless a header says otherwise. */
  readonly chunks?: readonly Buffer[];
  readonly body?: Buffer;
  /** Leave the body unfinished (no end) until the answer has arrived. */
  readonly unfinished?: boolean;
}

interface RawResult extends HttpResult {
  /** Whether the request went out on a kept-alive connection from an earlier request. */
  readonly reusedSocket: boolean;
}

/**
 * A request with full control of framing. The server may answer and close before the whole
 * body is written; the answer is what counts, so write errors after it are ignored.
 */
function rawRequest(ks: TestKeysService, options: RawOptions): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = https.request(
      new URL(PATH, ks.address.url),
      { method: 'POST', headers: options.headers ?? {}, agent: options.agent },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const { reusedSocket } = req;
          if (options.unfinished) req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: jsonOrUndefined(text),
            reusedSocket,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pending = [...(options.chunks ?? []), ...(options.body ? [options.body] : [])];
    // One chunk per turn so the server sees a stream of chunks rather than one buffer.
    const writeNext = (): void => {
      if (answered || req.destroyed) return;
      const next = pending.shift();
      if (next === undefined) {
        if (!options.unfinished) req.end();
        return;
      }
      req.write(next, () => setImmediate(writeNext));
    };
    writeNext();
  });
}

describe('keys-service POST /api/v1/certificates', function () {
  let ks: TestKeysService;
  let alice: string;
  let key: string;

  before(async function () {
    ks = await startKeysService();
    alice = await ks.token(ALICE);
    key = clientKey();
  });

  after(async function () {
    await ks?.dispose();
  });

  const issue = (extra: { headers?: Record<string, string>; path?: string } = {}) =>
    ks.client.request(extra.path ?? PATH, {
      token: alice,
      body: { app: 'demo', public_key: key },
      ...(extra.headers ? { headers: extra.headers } : {}),
    });

  const auditCount = async (): Promise<number> =>
    (await ks.service.context.store.audit.list({ type: 'certificate.issued', limit: 100_000 }))
      .length;

  describe('headers', function () {
    it('answers 201, 400 and 401 as JSON with the security headers', async function () {
      const created = await issue();
      const invalid = await ks.client.request(PATH, { token: alice, body: { app: 'demo' } });
      const anonymous = await ks.client.request(PATH, { body: { app: 'demo', public_key: key } });
      assert.equal(created.status, 201);
      assert.equal(invalid.status, 400);
      assert.equal(anonymous.status, 401);
      for (const res of [created, invalid, anonymous]) {
        for (const name of [
          'content-security-policy',
          'strict-transport-security',
          'x-content-type-options',
          'referrer-policy',
          'x-frame-options',
        ]) {
          assert.ok(res.headers[name], `the ${res.status} answer lacks ${name}`);
        }
        assert.equal(res.headers['referrer-policy'], 'no-referrer');
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
        assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.text)));
        assert.equal(res.headers['x-powered-by'], undefined);
      }
    });
  });

  describe('metrics', function () {
    it('counts 201 and 401 answers by route and status, and issued certificates', async function () {
      const before = await ks.scrapeMetrics();
      assert.equal((await issue()).status, 201);
      assert.equal((await issue()).status, 201);
      const anonymous = await ks.client.request(PATH, { body: { app: 'demo', public_key: key } });
      assert.equal(anonymous.status, 401);
      const after = { text: await ks.scrapeMetrics() };
      const delta = (name: string, labels?: Record<string, string>): number =>
        metricSample(after.text, name, labels) - metricSample(before, name, labels);
      const requests = 'neetodeploy_keys_http_requests_total';
      const route = { method: 'POST', route: PATH };
      assert.equal(delta(requests, { ...route, status: '201' }), 2);
      assert.equal(delta(requests, { ...route, status: '401' }), 1);
      assert.equal(delta('neetodeploy_keys_certificates_issued_total'), 2);
      assert.equal(delta('neetodeploy_keys_failures_total', { reason: 'missing_token' }), 1);
      assert.equal(
        delta('neetodeploy_keys_http_request_duration_seconds_count', { route: PATH }) >= 3,
        true,
        'request durations are observed for the route',
      );
    });
  });

  describe('routing', function () {
    it('serves the path with a query string', async function () {
      const res = await issue({ path: `${PATH}?x=1` });
      assert.equal(res.status, 201);
      assert.ok(res.json.certificate);
    });

    it('matches the path in any case, with an optional trailing slash', async function () {
      for (const path of [`${PATH}/`, '/API/v1/Certificates', `${PATH}/?x=1`]) {
        const res = await issue({ path });
        assert.equal(res.status, 201, `${path}: ${res.text}`);
      }
      const other = await issue({ path: `${PATH}/x` });
      assert.equal(other.status, 404);
    });

    it('answers GET with a JSON 404', async function () {
      const res = await ks.client.request(PATH, { token: alice });
      assert.equal(res.status, 404);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(res.json.error.code, 'no_such_endpoint');
    });
  });

  describe('request bodies', function () {
    it('answers an empty body with 400 naming the missing fields', async function () {
      const res = await ks.client.request(PATH, { token: alice, method: 'POST' });
      assert.equal(res.status, 400);
      assert.equal(res.json.error.code, 'invalid_request');
      assert.match(res.json.error.message, /app/);
      assert.match(res.json.error.message, /public_key/);
    });

    for (const text of ['"demo"', '42', 'true', 'null']) {
      it(`refuses the JSON scalar ${text} as malformed`, async function () {
        const res = await ks.client.request(PATH, {
          token: alice,
          rawBody: text,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, 400);
        assert.equal(res.json.error.code, 'malformed_json');
      });
    }

    it('refuses compressed bodies and charsets other than UTF-8', async function () {
      const body = JSON.stringify({ app: 'demo', public_key: key });
      const gzip = await ks.client.request(PATH, {
        token: alice,
        rawBody: body,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      assert.equal(gzip.status, 400);
      assert.equal(gzip.json.error.code, 'unsupported_encoding');
      const latin1 = await ks.client.request(PATH, {
        token: alice,
        rawBody: body,
        headers: { 'content-type': 'application/json; charset=latin1' },
      });
      assert.equal(latin1.status, 400);
      assert.equal(latin1.json.error.code, 'unsupported_encoding');
      // The same body in UTF-8 is fine: the refusals are about the headers alone.
      const utf8 = await ks.client.request(PATH, {
        token: alice,
        rawBody: body,
        headers: { 'content-type': 'application/json; charset=UTF-8' },
      });
      assert.equal(utf8.status, 201);
    });

    it('refuses an announced oversized body from its Content-Length and closes the connection', async function () {
      const agent = new https.Agent({ ca: ks.ca, keepAlive: true, maxSockets: 1 });
      try {
        // On a kept-alive connection a normal answer keeps it open...
        const ok = await rawRequest(ks, {
          agent,
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ app: 'demo', public_key: key })),
        });
        assert.equal(ok.status, 201);
        assert.equal(ok.headers.connection, 'keep-alive');
        // ...while a refused body that has not all arrived (here: never will) closes it. The
        // answer comes from the header alone, without waiting for the body.
        const res = await rawRequest(ks, {
          agent,
          headers: {
            authorization: `Bearer ${alice}`,
            'content-type': 'application/json',
            'content-length': String(LIMIT + 1),
          },
          body: Buffer.from('{"app":"demo","public_key":"'),
          unfinished: true,
        });
        assert.equal(res.status, 413);
        assert.equal(res.json.error.code, 'payload_too_large');
        assert.equal(res.headers.connection, 'close');
      } finally {
        agent.destroy();
      }
    });

    it('after a 413 for a fully sent body, the connection still serves the next request', async function () {
      const agent = new https.Agent({ ca: ks.ca, keepAlive: true, maxSockets: 1 });
      try {
        const headers = { authorization: `Bearer ${alice}`, 'content-type': 'application/json' };
        for (const size of [LIMIT + 1000, LIMIT * 4]) {
          const huge = Buffer.from(JSON.stringify({ app: 'demo', public_key: 'x'.repeat(size) }));
          const refused = await rawRequest(ks, {
            agent,
            headers: { ...headers, 'content-length': String(huge.length) },
            body: huge,
          });
          assert.equal(refused.status, 413);
          // Whether the server closed or kept the connection, the next request must be
          // answered (a kept connection with an unread body left in it would hang here).
          const next = await rawRequest(ks, {
            agent,
            headers,
            body: Buffer.from(JSON.stringify({ app: 'demo', public_key: key })),
          });
          assert.equal(next.status, 201);
          assert.equal(next.reusedSocket, refused.headers.connection !== 'close');
        }
      } finally {
        agent.destroy();
      }
    });

    it('refuses a complete chunked body over the limit with 413', async function () {
      const agent = new https.Agent({ ca: ks.ca, keepAlive: true });
      try {
        const huge = JSON.stringify({ app: 'demo', public_key: 'x'.repeat(LIMIT) });
        const res = await rawRequest(ks, {
          agent,
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          chunks: [huge.slice(0, 5000), huge.slice(5000, 12000), huge.slice(12000)].map((t) =>
            Buffer.from(t),
          ),
        });
        assert.equal(res.status, 413);
        assert.equal(res.json.error.code, 'payload_too_large');
      } finally {
        agent.destroy();
      }
    });

    it('accepts a chunked body under the limit', async function () {
      const agent = new https.Agent({ ca: ks.ca, keepAlive: true });
      try {
        const text = JSON.stringify({ app: 'demo', public_key: key });
        const cut = Math.floor(text.length / 3);
        const res = await rawRequest(ks, {
          agent,
          headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
          chunks: [text.slice(0, cut), text.slice(cut, 2 * cut), text.slice(2 * cut)].map((s) =>
            Buffer.from(s),
          ),
        });
        assert.equal(res.status, 201);
        assert.ok(res.json.serial);
      } finally {
        agent.destroy();
      }
    });

    it('checks the token before the body: no token and a huge body is 401', async function () {
      const res = await ks.client.request(PATH, {
        body: { app: 'demo', public_key: 'x'.repeat(LIMIT * 2) },
      });
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, 'missing_token');
    });
  });

  describe('client addresses', function () {
    const lastIssuedIp = async (service: TestKeysService): Promise<string | undefined> => {
      const [event] = await service.service.context.store.audit.list({
        type: 'certificate.issued',
        limit: 1,
      });
      return event?.clientIp;
    };

    it('ignores X-Forwarded-For when no proxy is trusted', async function () {
      const res = await issue({ headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(res.status, 201);
      assert.equal(await lastIssuedIp(ks), '127.0.0.1');
    });

    it('believes as many X-Forwarded-For entries as trustProxyHops', async function () {
      const proxied = await startKeysService({ config: { trustProxyHops: 1 } });
      try {
        const token = await proxied.token(ALICE);
        const send = (forwarded: string) =>
          proxied.client.request(PATH, {
            token,
            body: { app: 'demo', public_key: key },
            headers: { 'x-forwarded-for': forwarded },
          });
        assert.equal((await send('203.0.113.9')).status, 201);
        assert.equal(await lastIssuedIp(proxied), '203.0.113.9');
        // One trusted hop: the entry the proxy appended, not what the client claimed before it.
        assert.equal((await send('198.51.100.1, 203.0.113.9')).status, 201);
        assert.equal(await lastIssuedIp(proxied), '203.0.113.9');
      } finally {
        await proxied.dispose();
      }
    });
  });

  describe('load and failures', function () {
    it('issues 40 concurrent certificates with distinct serials and request ids', async function () {
      const before = await auditCount();
      const keys = Array.from({ length: 40 }, () => clientKey());
      const answers = await Promise.all(
        keys.map((publicKey) =>
          ks.client.request(PATH, { token: alice, body: { app: 'demo', public_key: publicKey } }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(40).fill(201),
      );
      assert.equal(new Set(answers.map((a) => a.json.serial as string)).size, 40);
      assert.equal(new Set(answers.map((a) => a.json.request_id as string)).size, 40);
      assert.equal(await auditCount(), before + 40);
      const audited = await ks.service.context.store.audit.list({
        type: 'certificate.issued',
        limit: 40,
      });
      assert.deepEqual(
        new Set(audited.map((e) => e.details.serial)),
        new Set(answers.map((a) => a.json.serial as string)),
      );
    });

    /** A TLS connection that speaks HTTP/1.1 by hand; `answer` collects whatever comes back. */
    async function rawConnection(): Promise<{ socket: tls.TLSSocket; answer: () => string }> {
      const socket = tls.connect({ host: ks.address.host, port: ks.address.port, ca: ks.ca });
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      return { socket, answer: () => answer };
    }

    const head = (length: number, connection = 'keep-alive'): string =>
      `POST ${PATH} HTTP/1.1\r\nHost: ${ks.address.host}\r\nAuthorization: Bearer ${alice}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${length}\r\n` +
      `Connection: ${connection}\r\n\r\n`;

    it('answers a hand-written request on a raw TLS socket (control for the next tests)', async function () {
      const body = JSON.stringify({ app: 'demo', public_key: key });
      const { socket, answer } = await rawConnection();
      // The server closes after its answer; the client must not half-close first (see below).
      const ended = new Promise((resolve) => socket.once('end', resolve));
      socket.write(`${head(Buffer.byteLength(body), 'close')}${body}`);
      await ended;
      socket.destroy();
      assert.match(answer(), /^HTTP\/1\.1 201 /);
    });

    for (const when of ['at once', 'after the handler started'] as const) {
      it(`survives a client that leaves mid-body (${when}), and audits nothing for it`, async function () {
        const before = await auditCount();
        const body = JSON.stringify({ app: 'demo', public_key: key });
        const { socket, answer } = await rawConnection();
        await new Promise<void>((resolve) =>
          socket.write(`${head(1000)}${body.slice(0, 20)}`, () => resolve()),
        );
        if (when === 'after the handler started') {
          // Nothing outside the server marks the handler's start (it waits one turn, then the
          // token lookup); a short pause lets it reach the body read.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const closed = new Promise((resolve) => socket.once('close', resolve));
        socket.destroy();
        await closed;
        assert.equal(answer(), '', 'nothing is answered to a body that never came');

        const after = await Promise.all([issue(), issue(), issue()]);
        assert.deepEqual(
          after.map((a) => a.status),
          [201, 201, 201],
        );
        assert.equal(await auditCount(), before + 3);
      });
    }
  });
});
