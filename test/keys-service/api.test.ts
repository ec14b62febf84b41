import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  encodePublicKeyText,
  generatePrivateKey,
  parseCertificateText,
  parsePublicKeyText,
  signCertificate,
  verifyUserCertificate,
} from '@neetodeploy/sshcert';
import { hashUserId } from '@neetodeploy/contract';
import type { AppInfo, Platform } from '@neetodeploy/platform';
import { NotFound } from '@neetodeploy/platform';
import { ALICE, BOB, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';

const exec = promisify(execFile);

function clientKey(): { line: string } {
  const key = generatePrivateKey('ssh-ed25519');
  return { line: encodePublicKeyText(key.publicKey, 'test@laptop') };
}

/** A Platform with a fixed app list; only what the keys-service calls is implemented. */
function fakePlatform(apps: AppInfo[]): Platform {
  const unused = (): never => {
    throw new Error('not used by the keys-service tests');
  };
  return {
    listApps: () => Promise.resolve([...apps].sort((a, b) => a.name.localeCompare(b.name))),
    getApp: (name) => {
      const app = apps.find((a) => a.name === name);
      return app ? Promise.resolve(app) : Promise.reject(new NotFound(`no app named ${name}`));
    },
    listProcesses: unused,
    openConsole: unused,
    streamLogs: unused,
    getConfigVars: unused,
    updateConfigVars: unused,
    openPortForward: unused,
    close: () => Promise.resolve(),
  };
}

describe('keys-service API', function () {
  let ks: TestKeysService;
  let alice: string;
  let tmp: string;
  let offsetMs = 0;

  before(async function () {
    ks = await startKeysService({
      deps: {
        clock: () => new Date(Date.now() + offsetMs),
        platform: fakePlatform([
          { name: 'demo', processTypes: ['web', 'worker'] },
          { name: 'shop-eu', processTypes: ['web'] },
          { name: 'other', processTypes: ['web'] },
          { name: 'pinned', processTypes: ['web'] },
        ]),
      },
    });
    alice = await ks.token(ALICE);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-api-'));
  });

  after(async function () {
    await ks?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('operations', function () {
    it('answers /healthz and /readyz', async function () {
      assert.equal((await ks.client.request('/healthz')).status, 200);
      const ready = await ks.client.request('/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.json.status, 'ready');
    });

    it("sends helmet's security headers on API answers, errors and pages alike", async function () {
      const answers = [
        await ks.client.request('/healthz'),
        await ks.client.request('/api/v1/me'),
        await ks.client.request('/api/v1/me', { token: alice }),
        await ks.client.request('/device'),
        await ks.client.request('/no/such/page'),
      ];
      for (const res of answers) {
        assert.equal(
          res.headers['content-security-policy'],
          "default-src 'none';style-src 'self';img-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'",
        );
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
        assert.equal(res.headers['referrer-policy'], 'no-referrer');
        assert.match(String(res.headers['strict-transport-security']), /^max-age=\d+/);
        assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin');
        assert.equal(res.headers['x-powered-by'], undefined);
      }
    });

    it('exposes Prometheus metrics by route and status on the metrics listener only', async function () {
      await ks.client.request('/api/v1/me');
      // Issue 13 item 8: the API port (internet-facing) no longer answers /metrics.
      const onApi = await ks.client.request('/metrics');
      assert.equal(onApi.status, 404);
      assert.doesNotMatch(onApi.text, /neetodeploy_keys/);
      const res = { text: await ks.scrapeMetrics() };
      assert.notEqual(new URL(ks.address.metricsUrl ?? '').port, String(ks.address.port));
      assert.match(
        res.text,
        /neetodeploy_keys_http_requests_total\{method="GET",route="\/api\/v1\/me",status="401"\} \d+/,
      );
      assert.match(res.text, /neetodeploy_keys_failures_total\{reason="missing_token"\} \d+/);
    });

    it('answers unknown endpoints with a JSON 404', async function () {
      const res = await ks.client.request('/api/v1/nope', { token: alice });
      assert.equal(res.status, 404);
      assert.equal(res.json.error.code, 'no_such_endpoint');
    });

    it('serves the TLS certificate the generated CA signed', function () {
      assert.ok(ks.address.url.startsWith('https://127.0.0.1:'));
      assert.match(ks.address.tlsFingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    });
  });

  describe('tokens', function () {
    it('GET /api/v1/me says who the token belongs to', async function () {
      const res = await ks.client.request('/api/v1/me', { token: alice });
      assert.equal(res.status, 200);
      assert.equal(res.json.email, ALICE);
      assert.deepEqual(res.json.groups, ['dev']);
      assert.ok(Date.parse(res.json.token.expires_at) > Date.now() + 29 * 86_400_000);
    });

    it('refuses a missing, malformed or unknown token with 401', async function () {
      const missing = await ks.client.request('/api/v1/me');
      assert.equal(missing.status, 401);
      assert.equal(missing.json.error.code, 'missing_token');
      const unknown = await ks.client.request('/api/v1/me', { token: `ndk_${'A'.repeat(43)}` });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.json.error.code, 'invalid_token');
      const basic = await ks.client.request('/api/v1/me', {
        headers: { authorization: 'Basic Zm9vOmJhcg==' },
      });
      assert.equal(basic.status, 401);
    });

    it('refuses an expired token', async function () {
      const token = await ks.token(ALICE, 60);
      assert.equal((await ks.client.request('/api/v1/me', { token })).status, 200);
      offsetMs = 61_000;
      try {
        const res = await ks.client.request('/api/v1/me', { token });
        assert.equal(res.status, 401);
        assert.equal(res.json.error.code, 'expired_token');
      } finally {
        offsetMs = 0;
      }
    });

    it('DELETE /api/v1/tokens/current logs out: the token stops working', async function () {
      const token = await ks.token(ALICE);
      assert.equal((await ks.client.request('/api/v1/me', { token })).status, 200);
      const del = await ks.client.request('/api/v1/tokens/current', { method: 'DELETE', token });
      assert.equal(del.status, 204);
      const after = await ks.client.request('/api/v1/me', { token });
      assert.equal(after.status, 401);
      assert.equal(after.json.error.code, 'revoked_token');
      assert.equal((await ks.client.request('/api/v1/me', { token: alice })).status, 200);
    });
  });

  describe('GET /api/v1/apps', function () {
    it("lists the platform's apps the policy grants, with permissions", async function () {
      const res = await ks.client.request('/api/v1/apps', { token: alice });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.apps, [
        {
          name: 'demo',
          permissions: ['exec', 'logs', 'config:read'],
          process_types: ['web', 'worker'],
        },
        { name: 'pinned', permissions: ['exec'], process_types: ['web'] },
        { name: 'shop-eu', permissions: ['exec', 'logs', 'config:read'], process_types: ['web'] },
      ]);
    });

    it('gives group members what the group is granted', async function () {
      const bob = await ks.token(BOB);
      const res = await ks.client.request('/api/v1/apps', { token: bob });
      assert.deepEqual(
        res.json.apps.map((a: { name: string }) => a.name),
        ['demo', 'other', 'pinned', 'shop-eu'],
      );
      assert.deepEqual(res.json.apps[0].permissions, ['exec', 'port-forward']);
    });

    it('lists nothing for a user the policy does not name (deny by default)', async function () {
      const token = await ks.token('mallory@example.com');
      const res = await ks.client.request('/api/v1/apps', { token });
      assert.deepEqual(res.json.apps, []);
    });
  });

  describe('POST /api/v1/certificates', function () {
    it('signs a certificate that sshcert and ssh-keygen -L both accept', async function () {
      const { line } = clientKey();
      const res = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo', public_key: line, process: 'web' },
      });
      assert.equal(res.status, 201, res.text);
      const cert = parseCertificateText(res.json.certificate);
      assert.equal(cert.certType, 'user');
      assert.deepEqual([...cert.principals], ['demo']);
      assert.equal(cert.keyId, `${ALICE}:${res.json.request_id}`);
      assert.ok(!res.json.request_id.includes(':'));
      assert.equal(cert.serial.toString(), res.json.serial);
      assert.deepEqual({ ...cert.extensions }, { 'permit-pty': '' });
      assert.deepEqual({ ...cert.criticalOptions }, {});
      assert.ok(cert.publicKey.blob.equals(parsePublicKeyText(line).blob));
      const ttl = Number(cert.validBefore - cert.validAfter);
      assert.equal(ttl, 300 + 60);
      assert.equal(Date.parse(res.json.valid_after), Number(cert.validAfter) * 1000);

      const verdict = verifyUserCertificate(cert, {
        trustedCAs: ks.service.authorities.trustedUserKeys,
        now: new Date(),
        principal: 'demo',
      });
      assert.ok(verdict.ok, verdict.ok ? '' : verdict.message);
      const wrongApp = verifyUserCertificate(cert, {
        trustedCAs: ks.service.authorities.trustedUserKeys,
        now: new Date(),
        principal: 'shop-eu',
      });
      assert.equal(wrongApp.ok, false);

      const file = path.join(tmp, 'id-cert.pub');
      fs.writeFileSync(file, `${res.json.certificate}\n`);
      const { stdout } = await exec('ssh-keygen', ['-L', '-f', file], {
        env: { ...process.env, TZ: 'UTC' },
      });
      assert.match(stdout, /user certificate/);
      assert.match(stdout, new RegExp(`Key ID: "${ALICE}:${res.json.request_id}"`));
      assert.match(stdout, new RegExp(`Serial: ${res.json.serial}`));
      assert.match(stdout, /Principals: \n\s+demo\n/);
      assert.match(stdout, /Extensions: \n\s+permit-pty\n/);

      assert.equal(res.json.bastion.port, 2222);
      assert.equal(
        res.json.bastion.known_hosts,
        `@cert-authority 127.0.0.1,*.neetodeploy ${ks.service.authorities.hostCaKeyLine}`,
      );
    });

    it('records an audit event with who, app, serial, key fingerprint, validity and client IP', async function () {
      const { line } = clientKey();
      const res = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'shop-eu', public_key: line },
      });
      assert.equal(res.status, 201);
      const [event] = await ks.service.context.store.audit.list({
        type: 'certificate.issued',
        limit: 1,
      });
      assert.ok(event);
      assert.equal(event.actor, ALICE);
      assert.equal(event.app, 'shop-eu');
      assert.equal(event.clientIp, '127.0.0.1');
      assert.equal(event.details.serial, res.json.serial);
      assert.equal(event.details.requestId, res.json.request_id);
      assert.match(String(event.details.keyFingerprint), /^SHA256:/);
      assert.equal(event.details.validBefore, res.json.valid_before);
    });

    it('adds port forwarding only with the port-forward permission', async function () {
      const bob = await ks.token(BOB);
      const res = await ks.client.request('/api/v1/certificates', {
        token: bob,
        body: { app: 'other', public_key: clientKey().line },
      });
      assert.equal(res.status, 201, res.text);
      const cert = parseCertificateText(res.json.certificate);
      assert.deepEqual({ ...cert.extensions }, { 'permit-port-forwarding': '', 'permit-pty': '' });
    });

    it('pins source-address when the policy does', async function () {
      const res = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'pinned', public_key: clientKey().line },
      });
      assert.equal(res.status, 201, res.text);
      const cert = parseCertificateText(res.json.certificate);
      assert.deepEqual({ ...cert.criticalOptions }, { 'source-address': '10.1.0.0/16' });
      const inside = verifyUserCertificate(cert, {
        trustedCAs: ks.service.authorities.trustedUserKeys,
        now: new Date(),
        principal: 'pinned',
        sourceAddress: '10.1.2.3',
      });
      assert.ok(inside.ok);
      const outside = verifyUserCertificate(cert, {
        trustedCAs: ks.service.authorities.trustedUserKeys,
        now: new Date(),
        principal: 'pinned',
        sourceAddress: '127.0.0.1',
      });
      assert.equal(outside.ok, false);
    });

    it('refuses apps the policy does not grant with 403, unknown apps with 404', async function () {
      const denied = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'other', public_key: clientKey().line },
      });
      assert.equal(denied.status, 403);
      assert.equal(denied.json.error.code, 'access_denied');
      const unknown = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'shop-zz', public_key: clientKey().line },
      });
      assert.equal(unknown.status, 404);
      const badProcess = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo', public_key: clientKey().line, process: 'cron' },
      });
      assert.equal(badProcess.status, 404);
      assert.equal(badProcess.json.error.code, 'unknown_process');
    });

    it('refuses invalid app names with 400 before any lookup', async function () {
      for (const app of [
        'Demo',
        '-demo',
        'demo_1',
        'a'.repeat(64),
        '',
        'demo.neetodeploy',
        '../etc',
      ]) {
        const res = await ks.client.request('/api/v1/certificates', {
          token: alice,
          body: { app, public_key: clientKey().line },
        });
        assert.equal(res.status, 400, app);
        assert.equal(res.json.error.code, 'invalid_request');
      }
    });

    it('refuses malformed and weak keys', async function () {
      const malformed = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo', public_key: 'ssh-ed25519 AAAAnotbase64!!' },
      });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.json.error.code, 'invalid_public_key');
      const keyFile = path.join(tmp, 'weak');
      await exec('ssh-keygen', ['-q', '-t', 'rsa', '-b', '1024', '-N', '', '-f', keyFile]);
      const weak = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo', public_key: fs.readFileSync(`${keyFile}.pub`, 'utf8') },
      });
      assert.equal(weak.status, 400);
      assert.equal(weak.json.error.code, 'invalid_public_key');
      assert.match(weak.json.error.message, /too weak/);
    });

    it('refuses bad bodies: malformed JSON, unknown fields, missing fields, oversized', async function () {
      const bad = await ks.client.request('/api/v1/certificates', {
        token: alice,
        rawBody: '{"app": "demo",',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'malformed_json');
      const unknownField = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo', public_key: clientKey().line, principals: ['root'] },
      });
      assert.equal(unknownField.status, 400);
      assert.match(unknownField.json.error.message, /unknown field\(s\): principals/);
      const missing = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo' },
      });
      assert.equal(missing.status, 400);
      const notObject = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: ['demo'],
      });
      assert.equal(notObject.status, 400);
      const huge = await ks.client.request('/api/v1/certificates', {
        token: alice,
        body: { app: 'demo', public_key: 'x'.repeat(20_000) },
      });
      assert.equal(huge.status, 413);
      assert.equal(huge.json.error.code, 'payload_too_large');
    });

    it('needs a valid token', async function () {
      const res = await ks.client.request('/api/v1/certificates', {
        body: { app: 'demo', public_key: clientKey().line },
      });
      assert.equal(res.status, 401);
    });
  });

  describe('revocation and GET /api/v1/ca', function () {
    it('serves the CA bundle with an ETag and answers 304 to If-None-Match', async function () {
      const first = await ks.client.request('/api/v1/ca');
      assert.equal(first.status, 200);
      assert.deepEqual(Object.keys(first.json).sort(), [
        'generated_at',
        'host_ca_key',
        'krl',
        'not_before',
        'not_before_sha256',
        'user_ca_keys',
      ]);
      assert.deepEqual(first.json.user_ca_keys, [...ks.service.authorities.userCaKeyLines]);
      assert.match(first.json.user_ca_keys[0], /^ssh-ed25519 AAAA\S+ neetodeploy-user-ca$/);
      assert.match(first.json.host_ca_key, /^ssh-ed25519 AAAA\S+ neetodeploy-host-ca$/);
      const etag = first.headers.etag as string;
      assert.match(etag, /^"[^"]+"$/);
      const again = await ks.client.request('/api/v1/ca', { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
      const stale = await ks.client.request('/api/v1/ca', {
        headers: { 'if-none-match': '"stale"' },
      });
      assert.equal(stale.status, 200);
    });

    it('revoking a user kills their tokens, sets not_before, changes the ETag and clamps the backdate', async function () {
      const carol = 'carol@example.com';
      fs.appendFileSync(
        ks.policyFile,
        `  - users: [${carol}]\n    apps: [demo]\n    permissions: [exec]\n`,
      );
      ks.service.context.policy.reload();
      const token = await ks.token(carol);
      const before = await ks.client.request('/api/v1/certificates', {
        token,
        body: { app: 'demo', public_key: clientKey().line },
      });
      assert.equal(before.status, 201, before.text);
      const etagBefore = (await ks.client.request('/api/v1/ca')).headers.etag as string;

      const { revokeUser } = await import('@neetodeploy/keys-service');
      const result = await revokeUser(ks.service.context, carol);
      assert.equal(result.tokensRevoked, 1);
      assert.equal((await ks.client.request('/api/v1/me', { token })).status, 401);

      const bundle = await ks.client.request('/api/v1/ca', {
        headers: { 'if-none-match': etagBefore },
      });
      assert.equal(bundle.status, 200);
      // Issue 13 item 8: the public bundle names the user only by the SHA-256 of the email.
      assert.equal(bundle.json.not_before_sha256[hashUserId(carol)], result.notBefore);
      assert.deepEqual(bundle.json.not_before, {});
      assert.doesNotMatch(bundle.text, /carol/i);
      assert.notEqual(bundle.headers.etag, etagBefore);

      // The old certificate is now older than not_before: a bastion refuses it.
      const oldCert = parseCertificateText(before.json.certificate);
      assert.ok(oldCert.validAfter < BigInt(result.notBefore));

      // A new login's certificate starts no earlier than not_before (backdate clamped).
      const fresh = await ks.token(carol);
      const after = await ks.client.request('/api/v1/certificates', {
        token: fresh,
        body: { app: 'demo', public_key: clientKey().line },
      });
      assert.equal(after.status, 201);
      const newCert = parseCertificateText(after.json.certificate);
      assert.ok(
        newCert.validAfter >= BigInt(result.notBefore),
        `${newCert.validAfter} < ${result.notBefore}`,
      );
      assert.ok(newCert.validAfter <= BigInt(Math.floor(Date.now() / 1000)));
    });
  });
});

describe('keys-service known_hosts with a pinned bastion host key', function () {
  let ks: TestKeysService;
  const hostKey = generatePrivateKey('ssh-ed25519');

  before(async function () {
    ks = await startKeysService({
      config: {
        bastion: {
          host: 'bastion.example',
          port: 2200,
          pinnedHostKey: encodePublicKeyText(hostKey.publicKey, 'bastion'),
        },
      },
    });
  });

  after(async function () {
    await ks?.dispose();
  });

  it('hands out both the @cert-authority line and the pinned key line, and the CLI accepts either key', async function () {
    const res = await ks.client.request('/api/v1/certificates', {
      token: await ks.token(ALICE),
      body: { app: 'demo', public_key: clientKey().line },
    });
    assert.equal(res.status, 201, res.text);
    const text = res.json.bastion.known_hosts as string;
    assert.deepEqual(text.split('\n'), [
      `@cert-authority bastion.example,*.neetodeploy ${ks.service.authorities.hostCaKeyLine}`,
      `[bastion.example]:2200 ${encodePublicKeyText(hostKey.publicKey, 'bastion')}`,
    ]);

    // The exec command's ssh2 host check: the plain key (what ssh2 is offered) is pinned, and a
    // host certificate (what stock ssh is offered) verifies against the host CA line.
    const { checkHostKey, parseKnownHosts } = await import('../../cli/src/known-hosts.js');
    const entries = parseKnownHosts(text);
    assert.equal(entries.length, 2);
    const target = { host: 'bastion.example', port: 2200, now: new Date() };
    assert.deepEqual(checkHostKey(hostKey.publicKey.blob, entries, target), { ok: true });
    const hostCert = signCertificate(
      {
        publicKey: hostKey.publicKey,
        certType: 'host',
        keyId: 'bastion',
        principals: ['bastion.example'],
        ttlSeconds: 600,
      },
      ks.service.authorities.hostSigningKey,
    );
    assert.deepEqual(checkHostKey(hostCert.blob, entries, target), { ok: true });
    const stranger = generatePrivateKey('ssh-ed25519').publicKey.blob;
    assert.equal(checkHostKey(stranger, entries, target).ok, false);
  });
});
