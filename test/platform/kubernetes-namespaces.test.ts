/**
 * Namespaces of the kubernetes platform: several apps in one shared namespace kept apart.
 */
import assert from 'node:assert/strict';
import { NotFound, createKubernetesPlatform, type KubernetesPlatform } from '@neetodeploy/platform';
import type { FakeApiServer } from '../support/fake-apiserver/index.js';
import { within } from '../support/platform-conformance.js';
import {
  collectText,
  deployment,
  platformConfig,
  seedApp,
  session,
  silent,
  startShop,
} from './kubernetes-harness.js';

describe('kubernetes platform', function () {
  this.timeout(20_000);
  let fake: FakeApiServer;
  let platform: KubernetesPlatform;

  before(async () => {
    ({ fake, platform } = await startShop());
  });

  after(async () => {
    await platform?.close();
    await fake?.stop();
  });

  describe('shared namespace mode', () => {
    it('keeps several apps in one namespace apart', async () => {
      const shared = await createKubernetesPlatform(
        platformConfig(fake, { namespaces: { mode: 'shared', namespace: 'apps' } }),
        { logger: silent },
      );
      try {
        seedApp(fake, 'alpha', 'apps');
        fake.create(deployment('beta', 'apps', 'worker'));
        assert.deepEqual(await shared.listApps(), [
          { name: 'alpha', processTypes: ['web'] },
          { name: 'beta', processTypes: ['worker'] },
        ]);
        assert.equal(shared.namespaceOf('beta'), 'apps');
        assert.deepEqual((await shared.getConfigVars('alpha')).vars, { GREETING: 'hello' });
        assert.deepEqual((await shared.getConfigVars('beta')).vars, {});
        // beta has no web process: its one-off console is made from its worker template.
        const console = await shared.openConsole(
          'beta',
          session({ command: 'printf "%s" "$FROM_TEMPLATE"' }),
        );
        const out = collectText(console.stdout);
        console.stdin.end();
        assert.deepEqual(await within(10_000, console.done, 'console end'), { code: 0 });
        assert.equal(await out, 'yes');
        await assert.rejects(shared.getApp('shop'), NotFound);
        // In per-app mode, apps in the shared namespace are not apps of their own namespace.
        const perApp = (await platform.listApps()).map((a) => a.name);
        assert.ok(perApp.includes('shop'));
        assert.ok(!perApp.includes('alpha') && !perApp.includes('beta'), perApp.join());
      } finally {
        await shared.close();
      }
    });
  });
});
