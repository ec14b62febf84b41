/**
 * A ProxyJump client offers its virtual host the certificate it logged in to the bastion with.
 * The inner login checks it in full again but reuses the carrier's parsed copy instead of
 * holding a second one; a different certificate, or a check that fails, is judged as before.
 */
import assert from 'node:assert/strict';
import { parseCertificate, signCertificate } from '@neetodeploy/sshcert';
import type { Certificate } from '@neetodeploy/sshcert';
import { checkPublicKey } from '../../bastion/src/auth/verify.js';
import type { TrustSnapshot } from '../../bastion/src/trust/index.js';
import { NOW, baseRequest, testKey } from '../sshcert/helpers.js';

const ca = testKey('ssh-ed25519', 2);

function trust(revokedSerials: readonly bigint[] = []): TrustSnapshot {
  return {
    userCAs: [ca.publicKey],
    notBefore: new Map(),
    loadedAt: NOW,
    source: 'test',
    revoked: { isRevoked: (c: Certificate) => revokedSerials.includes(c.serial) },
  };
}

function offer(cert: Certificate) {
  return { algo: 'ssh-ed25519-cert-v01@openssh.com', keyData: Buffer.from(cert.blob) };
}

describe('bastion: the carrier certificate of a ProxyJump login', () => {
  const outer = signCertificate(baseRequest({ principals: ['demo', 'blog'] }), ca);
  // What the outer login parsed from the wire: its own copy, as the bastion holds it.
  const carrier = parseCertificate(Buffer.from(outer.blob));
  /** A virtual host of `demo` behind that carrier, checking now from the carrier's address. */
  const asVirtualHost = () => ({
    trust: trust(),
    now: NOW,
    ip: '127.0.0.1',
    principal: 'demo',
    known: carrier,
  });

  it('reuses the carrier’s parsed certificate when the same bytes are offered again', () => {
    const r = checkPublicKey(offer(outer), asVirtualHost());
    assert.ok(r.ok);
    assert.equal(r.identity.certificate, carrier);
    assert.equal(r.identity.user, 'alice@example.com');
  });

  it('parses a different certificate on its own', () => {
    const other = signCertificate(baseRequest({ keyId: 'bob@example.com:req2', serial: 7n }), ca);
    const r = checkPublicKey(offer(other), asVirtualHost());
    assert.ok(r.ok);
    assert.notEqual(r.identity.certificate, carrier);
    assert.equal(r.identity.user, 'bob@example.com');
  });

  it('still checks the reused certificate: principal, expiry and revocation', () => {
    const base = asVirtualHost();
    const principal = checkPublicKey(offer(outer), { ...base, principal: 'shop' });
    assert.equal(principal.ok ? 'ok' : principal.reason, 'principal-not-listed');
    const later = new Date(NOW.getTime() + 3600_000);
    const expired = checkPublicKey(offer(outer), { ...base, now: later });
    assert.equal(expired.ok ? 'ok' : expired.reason, 'expired');
    const revoked = checkPublicKey(offer(outer), { ...base, trust: trust([outer.serial]) });
    assert.equal(revoked.ok ? 'ok' : revoked.reason, 'revoked');
  });

  it('still checks what the reused certificate is offered as, and where from', () => {
    const bound = signCertificate(
      baseRequest({ criticalOptions: { 'source-address': '10.0.0.0/8' } }),
      ca,
    );
    const known = parseCertificate(Buffer.from(bound.blob));
    const base = { ...asVirtualHost(), known };
    const elsewhere = checkPublicKey(offer(bound), { ...base, ip: '127.0.0.1' });
    assert.equal(elsewhere.ok ? 'ok' : elsewhere.reason, 'source-address-not-allowed');
    assert.ok(checkPublicKey(offer(bound), { ...base, ip: '10.1.2.3' }).ok);
    const renamed = checkPublicKey(
      { ...offer(bound), algo: 'ecdsa-sha2-nistp256-cert-v01@openssh.com' },
      { ...base, ip: '10.1.2.3' },
    );
    assert.equal(renamed.ok ? 'ok' : renamed.reason, 'malformed');
  });
});
