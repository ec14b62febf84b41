import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Policy, PolicyError } from '@neetodeploy/keys-service';
import { ALICE, startKeysService } from '../support/keys-service.js';
import { waitUntil } from '../support/wait.js';
import type { TestKeysService } from '../support/keys-service.js';

describe('keys-service access policy', function () {
  describe('evaluation', function () {
    const policy = Policy.parse(`
groups:
  ops: [Ops@Example.com]
rules:
  - users: [amy@example.com]
    apps: [demo, "shop-*", "x?"]
    permissions: [exec, logs]
  - groups: [dev]
    apps: [demo]
    permissions: [config:read, config:write]
  - groups: [ops]
    apps: ["*"]
    permissions: [port-forward]
    sourceAddress: 10.0.0.0/8
`);

    it('denies by default', function () {
      assert.equal(
        policy.grantFor({ email: 'nobody@example.com', groups: [] }, 'demo').permissions.size,
        0,
      );
      assert.equal(
        Policy.denyAll().grantFor({ email: 'amy@example.com', groups: ['dev'] }, 'demo').permissions
          .size,
        0,
      );
    });

    it('matches users, account groups and policy groups, names and globs', function () {
      const amy = { email: 'AMY@example.com', groups: ['dev'] };
      assert.deepEqual([...policy.grantFor(amy, 'demo').permissions].sort(), [
        'config:read',
        'config:write',
        'exec',
        'logs',
      ]);
      assert.deepEqual([...policy.grantFor(amy, 'shop-eu').permissions].sort(), ['exec', 'logs']);
      assert.equal(policy.grantFor(amy, 'shop').permissions.size, 0, 'shop-* needs the dash');
      assert.equal(policy.grantFor(amy, 'xy').permissions.size, 2);
      assert.equal(policy.grantFor(amy, 'xyz').permissions.size, 0);
      assert.equal(policy.grantFor(amy, 'demo2').permissions.size, 0);
      const ops = policy.grantFor({ email: 'ops@example.com', groups: [] }, 'anything');
      assert.deepEqual([...ops.permissions], ['port-forward']);
      assert.equal(ops.sourceAddress, '10.0.0.0/8');
      assert.deepEqual(policy.literalAppsFor(amy), ['demo']);
    });

    it('refuses invalid documents with the path of the problem', function () {
      assert.throws(
        () => Policy.parse('rules: [{users: [a], apps: [demo], permissions: [sudo]}]'),
        (err: Error) => {
          assert.ok(err instanceof PolicyError);
          assert.match(err.message, /policy\.rules\.0\.permissions\.0/);
          return true;
        },
      );
      assert.throws(
        () => Policy.parse('rules: [{apps: [demo], permissions: [exec]}]'),
        /needs users or groups/,
      );
      assert.throws(
        () => Policy.parse('rules: [{users: [a], apps: ["Demo"], permissions: [exec]}]'),
        PolicyError,
      );
      assert.throws(
        () => Policy.parse('rules: [{users: [a], apps: [demo], permissions: [exec], extra: 1}]'),
        /extra/,
      );
      assert.throws(() => Policy.parse('rules: [: :'), /not valid YAML/);
    });
  });

  describe('hot reload', function () {
    this.timeout(40_000);
    let ks: TestKeysService;
    let token: string;

    before(async function () {
      ks = await startKeysService({
        policy: `rules:\n  - users: [${ALICE}]\n    apps: [demo]\n    permissions: [exec]\n`,
      });
      token = await ks.token(ALICE);
    });

    after(async function () {
      await ks?.dispose();
    });

    const apps = async (): Promise<string[]> =>
      ((await ks.client.request('/api/v1/apps', { token })).json.apps as { name: string }[]).map(
        (a) => a.name,
      );

    it('applies a good change, keeps the last good policy on a bad one, recovers on the next good one', async function () {
      assert.deepEqual(await apps(), ['demo']);
      const results: boolean[] = [];
      ks.service.context.policy.onReload((r) => results.push(r.ok));

      fs.writeFileSync(
        ks.policyFile,
        `rules:\n  - users: [${ALICE}]\n    apps: [demo, blog]\n    permissions: [exec]\n`,
      );
      await waitUntil('blog to be listed', async () => (await apps()).includes('blog'));

      const before = results.length;
      fs.writeFileSync(
        ks.policyFile,
        'rules:\n  - users: [x]\n    apps: [demo]\n    permissions: [rm -rf]\n',
      );
      await waitUntil(
        'the bad policy to be refused',
        () => results.length > before && results.at(-1) === false,
      );
      assert.deepEqual(await apps(), ['blog', 'demo'], 'a bad file keeps the last good policy');

      // Editors replace files by renaming a new one into place.
      const tmp = `${ks.policyFile}.tmp`;
      fs.writeFileSync(
        tmp,
        `rules:\n  - users: [${ALICE}]\n    apps: [wiki]\n    permissions: [logs]\n`,
      );
      fs.renameSync(tmp, ks.policyFile);
      await waitUntil('only wiki to be listed', async () => (await apps()).join() === 'wiki');
    });
  });
});
