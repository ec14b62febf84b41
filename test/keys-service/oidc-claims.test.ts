import assert from 'node:assert/strict';
import { SignInFailed, groupsFromClaim, userFromClaims } from '../../keys-service/src/auth/oidc.js';
import { parseKeysServiceConfig } from '../support/keys-service-internals.js';

const rules = {
  emailClaim: 'email',
  groupsClaim: 'groups',
  requireEmailVerified: true,
  allowedEmailDomains: ['example.com'],
};

const reason = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof SignInFailed);
    return err.code;
  }
  return 'accepted';
};

describe('OIDC claims to a user (keys-service/src/auth/oidc.ts)', function () {
  it('takes the e-mail (lower-cased) and the groups from the configured claims', function () {
    const user = userFromClaims(
      { email: 'Alice@Example.com', email_verified: true, groups: ['dev', 'ops', 'dev'] },
      rules,
    );
    assert.deepEqual(user, { email: 'alice@example.com', groups: ['dev', 'ops'] });
    const custom = userFromClaims(
      { upn: 'bob@example.com', email_verified: true, roles: 'admins' },
      { ...rules, emailClaim: 'upn', groupsClaim: 'roles' },
    );
    assert.deepEqual(custom, { email: 'bob@example.com', groups: ['admins'] });
  });

  it('refuses an unverified e-mail, a domain not allowed, and a missing or unusable e-mail', function () {
    assert.equal(
      reason(() => userFromClaims({ email: 'a@example.com', email_verified: false }, rules)),
      'email_not_verified',
    );
    assert.equal(
      reason(() => userFromClaims({ email: 'a@example.com', email_verified: 'true' }, rules)),
      'email_not_verified',
    );
    assert.equal(
      reason(() => userFromClaims({ email: 'a@evil.example.com', email_verified: true }, rules)),
      'email_domain_not_allowed',
    );
    assert.equal(
      reason(() => userFromClaims({ email_verified: true }, rules)),
      'missing_email',
    );
    // Key ids use ':' as a separator: such an e-mail could name someone else.
    assert.equal(
      reason(() => userFromClaims({ email: 'a:b@example.com', email_verified: true }, rules)),
      'missing_email',
    );
    assert.equal(
      reason(() =>
        userFromClaims(
          { email: 'a@anywhere.test', email_verified: false },
          { ...rules, requireEmailVerified: false, allowedEmailDomains: [] },
        ),
      ),
      'accepted',
    );
  });

  it('keeps only printable string groups', function () {
    assert.deepEqual(groupsFromClaim(undefined), []);
    assert.deepEqual(groupsFromClaim({ a: 1 }), []);
    assert.deepEqual(groupsFromClaim(['/team/dev', 7, '', 'bad\nname', 'x'.repeat(257), 'ok']), [
      '/team/dev',
      'ok',
    ]);
  });

  it('config: defaults, scopes must include openid, secret file path resolved against the config', function () {
    const config = parseKeysServiceConfig(
      {
        dataDir: '/tmp/x',
        oidc: { issuer: 'https://idp.example.com', clientId: 'c', clientSecretFile: 'secret' },
      },
      '/etc/nd',
    );
    assert.equal(config.oidc?.clientSecretFile, '/etc/nd/secret');
    assert.deepEqual(config.oidc?.scopes, ['openid', 'email', 'profile']);
    assert.equal(config.oidc?.requireEmailVerified, true);
    assert.equal(config.oidc?.clockToleranceSeconds, 30);
    assert.throws(
      () =>
        parseKeysServiceConfig({
          dataDir: '/tmp/x',
          oidc: { issuer: 'https://idp.example.com', clientId: 'c', scopes: ['email'] },
        }),
      /oidc\.scopes: scopes must include openid/,
    );
    assert.equal(parseKeysServiceConfig({ dataDir: '/tmp/x' }).oidc, undefined);
  });
});
