import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import { ALICE, ALICE_PASSWORD, startKeysService } from '../support/keys-service.js';
import {
  approveLoginSession,
  createLocalAuthenticator,
} from '../support/keys-service-internals.js';

describe('keys-service logs', function () {
  it('carry events as JSON but never tokens, device codes, passwords or certificates', async function () {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const base = Date.now();
    let offset = 0;
    const ks = await startKeysService({
      deps: { logger: pino({ level: 'debug' }, sink), clock: () => new Date(base + offset) },
    });
    try {
      const session = await ks.client.request('/api/v1/login-sessions', {
        body: { hostname: 'h' },
      });
      const deviceCode = session.json.device_code as string;
      await approveLoginSession(ks.service.context, {
        userCode: session.json.user_code as string,
        email: ALICE,
        decision: 'approve',
      });
      offset = 10_000;
      const token = await ks.client.request('/api/v1/login-sessions/token', {
        body: { device_code: deviceCode },
      });
      const accessToken = token.json.access_token as string;
      assert.ok(accessToken);
      const cert = await ks.client.request('/api/v1/certificates', {
        token: accessToken,
        body: {
          app: 'demo',
          public_key: encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey),
        },
      });
      assert.equal(cert.status, 201);
      // Wrong and right password through the authenticator (the web page's path).
      const auth = createLocalAuthenticator(ks.service.context.store.users);
      assert.equal(await auth.verifyPassword(ALICE, 'wrong password'), undefined);
      assert.equal((await auth.verifyPassword(ALICE, ALICE_PASSWORD))?.email, ALICE);

      const all = lines.join('\n');
      const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
      assert.ok(events.includes('certificate.issued'));
      assert.ok(events.includes('token.issued'));
      assert.ok(events.includes('login_session.approved'));
      const certBody = (cert.json.certificate as string).split(' ')[1]!;
      for (const secret of [accessToken, deviceCode, ALICE_PASSWORD, certBody]) {
        assert.ok(!all.includes(secret), 'a secret reached the logs');
      }
    } finally {
      await ks.dispose();
    }
  });
});
