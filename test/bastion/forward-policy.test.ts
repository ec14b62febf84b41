/** The pure checks of a port forward request, in the order a user fixes them. */
import assert from 'node:assert/strict';
import { checkForward } from '../../bastion/src/forward/index.js';
import type { ForwardingConfig } from '../../bastion/src/forward/index.js';
import type { AuthenticatedConnection } from '../../bastion/src/types.js';

const CONFIG: ForwardingConfig = {
  enabled: true,
  maxPerConnection: 64,
  maxPerUser: 256,
  connectTimeoutMs: 10_000,
};
const NOW = 1_800_000_000;

function conn(extensions: Record<string, string>, validBefore: number): AuthenticatedConnection {
  return {
    state: 'authenticated',
    username: 'demo:web',
    target: { app: 'demo', process: 'web' },
    identity: {
      user: 'alice@example.com',
      extensions,
      validBefore: BigInt(validBefore),
      principals: ['demo'],
    },
  } as unknown as AuthenticatedConnection;
}

describe('bastion: port forward checks', function () {
  const permitted = { 'permit-port-forwarding': '' };

  it('serves localhost and 127.0.0.1 on a valid certificate that permits forwarding', function () {
    for (const host of ['localhost', '127.0.0.1', 'LOCALHOST']) {
      const r = checkForward({ host, port: 8080 }, conn(permitted, NOW + 60), CONFIG, NOW);
      assert.ok(r.ok, host);
    }
  });

  it('refuses a new forward once the certificate has expired, saying to get a new one', function () {
    const r = checkForward({ host: 'localhost', port: 8080 }, conn(permitted, NOW), CONFIG, NOW);
    assert.ok(!r.ok);
    assert.equal(r.refusal.reason, 'expired');
    assert.match(r.refusal.failure.description, /expired: run the command again/);
  });

  it('refuses other hosts and a certificate without permit-port-forwarding', function () {
    for (const host of [
      '169.254.169.254',
      '0.0.0.0',
      '::1',
      'localhost.',
      '2130706433',
      'example.com',
    ]) {
      const r = checkForward({ host, port: 80 }, conn(permitted, NOW + 60), CONFIG, NOW);
      assert.ok(!r.ok && r.refusal.reason === 'destination', host);
    }
    const r = checkForward({ host: 'localhost', port: 80 }, conn({}, NOW + 60), CONFIG, NOW);
    assert.ok(!r.ok && r.refusal.reason === 'not-permitted');
  });
});
