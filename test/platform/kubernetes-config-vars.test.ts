/**
 * Config vars of the kubernetes platform: the app's Secret, no lost update on a 409, and rolling
 * restarts by a pod-template annotation.
 */
import assert from 'node:assert/strict';
import {
  createKubeClient,
  createKubernetesPlatform,
  loadKubeConfig,
  type KubeClient,
  type KubernetesPlatform,
} from '@neetodeploy/platform';
import type { FakeApiServer } from '../support/fake-apiserver/index.js';
import {
  APP_LABEL,
  app,
  deployment,
  platformConfig,
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

  describe('config vars', () => {
    it('retries a write that lost a race (409) and keeps both writes', async () => {
      const client = createKubeClient(
        loadKubeConfig({ kubeconfigPath: fake.kubeconfigPath() }),
        5000,
      );
      let raced = false;
      const racing: KubeClient = {
        ...client,
        async request<T>(
          method: string,
          path: string,
          options?: Parameters<KubeClient['request']>[2],
        ) {
          if (method === 'PUT' && path.endsWith('/secrets/shop-config') && !raced) {
            raced = true;
            // Another writer commits between this writer's read and its write.
            fake.update('secrets', app, 'shop-config', (secret) => {
              const data = (secret.data ?? {}) as Record<string, string>;
              data.OTHER_WRITER = Buffer.from('theirs').toString('base64');
              secret.data = data;
            });
          }
          return client.request<T>(method, path, options);
        },
      };
      const racer = await createKubernetesPlatform(platformConfig(fake), {
        logger: silent,
        client: racing,
      });
      try {
        const before = fake.requests.length;
        const result = await racer.updateConfigVars(
          app,
          { set: { MINE: 'ours' } },
          { restart: false },
        );
        assert.ok(raced);
        assert.equal(result.vars.MINE, 'ours');
        assert.equal(result.vars.OTHER_WRITER, 'theirs');
        const puts = fake.requests.slice(before).filter((r) => r.method === 'PUT');
        assert.deepEqual(
          puts.map((r) => r.status),
          [409, 200],
        );
        assert.deepEqual((await platform.getConfigVars(app)).vars, result.vars);
        await platform.updateConfigVars(
          app,
          { unset: ['MINE', 'OTHER_WRITER'] },
          { restart: false },
        );
      } finally {
        await racer.close();
        client.close();
      }
    });

    it('rolls the Deployments by a pod-template annotation unless restart is false', async () => {
      const annotation = () =>
        (
          fake.get('deployments.apps', app, 'shop-web') as {
            spec: { template: { metadata: { annotations?: Record<string, string> } } };
          }
        ).spec.template.metadata.annotations?.['neetodeploy.com/restartedAt'];
      await platform.updateConfigVars(app, { set: { NO_ROLL: '1' } }, { restart: false });
      assert.equal(annotation(), undefined);
      const t0 = Date.now();
      await platform.updateConfigVars(app, { set: { ROLL: '1' } });
      const stamp = annotation();
      assert.ok(stamp && Date.parse(stamp) >= t0 - 1000, `annotation ${stamp}`);
      await platform.updateConfigVars(app, { unset: ['NO_ROLL', 'ROLL'] }, { restart: false });
    });

    it('creates the Secret on first write when it does not exist', async () => {
      fake.create(deployment('fresh', 'fresh', 'worker'));
      assert.deepEqual(await platform.getConfigVars('fresh'), { vars: {}, version: '0' });
      const set = await platform.updateConfigVars(
        'fresh',
        { set: { A: '1' } },
        { ifMatch: '0', restart: false },
      );
      assert.equal(set.vars.A, '1');
      const secret = fake.get('secrets', 'fresh', 'fresh-config') as {
        metadata?: { labels?: Record<string, string> };
      };
      assert.equal(secret.metadata?.labels?.[APP_LABEL], 'fresh');
      assert.deepEqual((await platform.getApp('fresh')).processTypes, ['worker']);
    });
  });
});
