/**
 * The contract's answer schemas against the real keys-service: every JSON answer the CLI and
 * the bastion read parses, and the key id decodes to the caller and the request id.
 * (Config vars and logs need a platform; test/cli covers them through the CLI's client.)
 */
import assert from 'node:assert/strict';
import {
  API_PATHS,
  LOGIN_POLL_ERROR_CODES,
  apiErrorSchema,
  appsSchema,
  caBundleSchema,
  certificateSchema,
  decodeKeyId,
  loginSessionSchema,
  meSchema,
} from '@neetodeploy/contract';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import { ALICE, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';

describe('contract: API answers of the real keys-service', function () {
  this.timeout(60_000);
  let keys: TestKeysService;
  let token: string;

  before(async () => {
    keys = await startKeysService();
    token = await keys.token(ALICE);
  });
  after(async () => {
    await keys.dispose();
  });

  it('login session and a pending poll', async () => {
    const created = await keys.client.request(API_PATHS.loginSessions, {
      body: { hostname: 'laptop', client_version: '0.1.0' },
    });
    assert.equal(created.status, 201);
    const session = loginSessionSchema.parse(created.json);
    const poll = await keys.client.request(API_PATHS.loginToken, {
      body: { device_code: session.device_code },
    });
    assert.equal(poll.status, 400);
    const code = apiErrorSchema.parse(poll.json).error.code;
    assert.ok((LOGIN_POLL_ERROR_CODES as readonly string[]).includes(code), code);
  });

  it('me, apps and the CA bundle', async () => {
    const me = meSchema.parse((await keys.client.request(API_PATHS.me, { token })).json);
    assert.equal(me.email, ALICE);
    appsSchema.parse((await keys.client.request(API_PATHS.apps, { token })).json);
    caBundleSchema.parse((await keys.client.request(API_PATHS.ca)).json);
  });

  it('a certificate whose key id decodes to the caller and the request id', async () => {
    const key = generatePrivateKey('ssh-ed25519');
    const answer = await keys.client.request(API_PATHS.certificates, {
      token,
      body: { app: 'demo', public_key: encodePublicKeyText(key.publicKey, 'test') },
    });
    assert.equal(answer.status, 201, answer.text);
    const issued = certificateSchema.parse(answer.json);
    assert.deepEqual(decodeKeyId(issued.key_id), {
      ok: true,
      value: { user: ALICE, requestId: issued.request_id },
    });
  });

  it('a refused request answers the error shape', async () => {
    const answer = await keys.client.request(API_PATHS.certificates, {
      token,
      body: { app: 'Demo', public_key: 'k' },
    });
    assert.equal(answer.status, 400);
    assert.equal(apiErrorSchema.parse(answer.json).error.code, 'invalid_request');
  });
});
