/**
 * The orphan console pod reaper of the kubernetes platform: heartbeats of live pods, deletion of
 * orphans.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  createKubernetesPlatform,
  createPlatformFromConfig,
  type KubernetesPlatform,
} from '@neetodeploy/platform';
import { type FakeApiServer, type KubeObject } from '../support/fake-apiserver/index.js';
import {
  app,
  consolePods,
  platformConfig,
  session,
  silent,
  startShop,
  type PodLike,
} from './kubernetes-harness.js';
import { waitUntil } from '../support/wait.js';

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

  describe('orphan reaper', () => {
    it('keeps the heartbeat of live console pods fresh', async () => {
      const beating = await createKubernetesPlatform(
        platformConfig(fake, {
          reaper: { intervalMs: 0, heartbeatIntervalMs: 100, staleAfterMs: 5_000, graceMs: 0 },
        }),
        { logger: silent },
      );
      const console = await beating.openConsole(app, session({ command: 'sleep 30' }));
      try {
        const name = consolePods(fake, app)[0]?.metadata?.name ?? '';
        const beat = () =>
          Date.parse(
            (fake.get('pods', app, name) as PodLike | undefined)?.metadata?.annotations?.[
              'neetodeploy.com/heartbeat'
            ] ?? '',
          );
        const first = beat();
        await waitUntil('a newer heartbeat', () => beat() > first, 10_000, 20);
      } finally {
        console.kill();
        await console.done;
        await beating.close();
      }
      assert.equal(consolePods(fake, app).length, 0);
    });

    it('deletes console pods with no live session and a stale heartbeat, keeps the rest', async () => {
      const reaperPlatform = await createKubernetesPlatform(
        platformConfig(fake, {
          reaper: { intervalMs: 0, heartbeatIntervalMs: 60_000, staleAfterMs: 5_000, graceMs: 0 },
        }),
        { logger: silent },
      );
      const consolePod = (name: string, heartbeat: Date): KubeObject => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: app,
          labels: { 'neetodeploy.com/console': 'true', 'neetodeploy.com/console-app': app },
          annotations: { 'neetodeploy.com/heartbeat': heartbeat.toISOString() },
        },
        spec: { containers: [{ name: 'web', image: 'x' }], terminationGracePeriodSeconds: 1 },
      });
      const live = await reaperPlatform.openConsole(app, session({ command: 'sleep 30' }));
      try {
        const livePod = consolePods(fake, app)[0]?.metadata?.name ?? '';
        // Its heartbeat looks stale, but its session is live here: kept.
        fake.update('pods', app, livePod, (pod) => {
          pod.metadata!.annotations!['neetodeploy.com/heartbeat'] = new Date(0).toISOString();
        });
        fake.create(consolePod('shop-console-orphan', new Date(Date.now() - 3_600_000)));
        fake.create(consolePod('shop-console-other-replica', new Date()));
        fake.create(consolePod('shop-console-ended', new Date()));
        await waitUntil(
          'pods running',
          () =>
            consolePods(fake, app).every(
              (p) => (p as { status?: { phase?: string } }).status?.phase === 'Running',
            ),
          10_000,
          20,
        );
        fake.setPodPhase(app, 'shop-console-ended', 'Failed', { reason: 'DeadlineExceeded' });
        const reaped = await reaperPlatform.reapOrphans();
        assert.deepEqual(reaped.sort(), [
          `${app}/shop-console-ended`,
          `${app}/shop-console-orphan`,
        ]);
        await waitUntil(
          'orphans gone',
          () =>
            consolePods(fake, app)
              .map((p) => p.metadata?.name)
              .sort()
              .join() === [livePod, 'shop-console-other-replica'].sort().join(),
          10_000,
          20,
        );
      } finally {
        live.kill();
        await live.done;
        await reaperPlatform.close();
        fake.delete('pods', app, 'shop-console-other-replica');
      }
    });

    it('logs a refused delete as a failure with its reason and does not report it reaped', async () => {
      // A component that may list but not delete pods (the keys-service's rights).
      fake.addUser('lister');
      fake.loadRbacYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: lister, namespace: ${app} }
rules: [{ apiGroups: [''], resources: [pods], verbs: [get, list, watch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: lister, namespace: ${app} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: lister }
subjects: [{ kind: User, name: lister }]
`);
      const lines: { msg?: string; reason?: string; pod?: string }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString().split('\n').filter(Boolean))
            lines.push(JSON.parse(l) as { msg?: string });
          done();
        },
      });
      const lister = await createKubernetesPlatform(
        {
          ...platformConfig(fake, {
            reaper: { intervalMs: 0, heartbeatIntervalMs: 60_000, staleAfterMs: 100, graceMs: 0 },
            namespaces: { mode: 'per-app', appNamespaces: [app] },
          }),
          kubeconfigPath: fake.kubeconfigPath('lister'),
        },
        { logger: pino({ level: 'info' }, sink) },
      );
      const name = 'shop-console-undeletable';
      fake.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: app,
          labels: { 'neetodeploy.com/console': 'true', 'neetodeploy.com/console-app': app },
        },
        spec: { containers: [{ name: 'web', image: 'x' }] },
      });
      try {
        fake.setPodPhase(app, name, 'Succeeded');
        assert.deepEqual(await lister.reapOrphans(), []);
        assert.ok(fake.get('pods', app, name), 'the pod is still there');
        const failure = lines.find((l) => l.msg === 'console pod could not be deleted');
        assert.ok(failure, JSON.stringify(lines));
        assert.equal(failure.pod, name);
        assert.match(failure.reason ?? '', /^403 Forbidden: .*cannot delete resource "pods"/);
        assert.ok(!lines.some((l) => l.msg === 'orphan console pod deleted'));
      } finally {
        await lister.close();
        fake.delete('pods', app, name);
      }
    });

    it('is off in a platform built with `reaper: false` (the keys-service)', async () => {
      const built = (await createPlatformFromConfig(
        { type: 'kubernetes', ...platformConfig(fake, { reaper: { intervalMs: 5_000 } }) } as never,
        { logger: silent },
        { reaper: false },
      )) as KubernetesPlatform;
      try {
        assert.equal(built.config.reaper.intervalMs, 0);
      } finally {
        await built.close();
      }
    });
  });
});
