/**
 * The chart's own RBAC (rendered by helm) loaded into the fake API server: the kubernetes
 * platform, configured as the chart configures it and holding only the bastion's or the
 * keys-service's service-account token, can do its job, and what the chart does not grant
 * gets 403.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { AccessDenied, createKubernetesPlatform } from '@neetodeploy/platform';
import type {
  ConsoleOptions,
  KubernetesPlatform,
  KubernetesPlatformConfigInput,
} from '@neetodeploy/platform';
import {
  DEFAULT_NAMESPACE,
  chartRbacYaml,
  configMapYaml,
  findObject,
  renderChart,
  serviceAccountNames,
} from '../support/chart.js';
import type { K8sObject } from '../support/chart.js';
import { serviceAccountUsername, startFakeApiServer } from '../support/fake-apiserver/index.js';
import type { FakeApiServer, KubeObject } from '../support/fake-apiserver/index.js';
import { tempDir } from '../support/ssh-client.js';
import { apiRequest, seedApp, withNamespacesFileIn } from './support.js';
import { waitUntil } from '../support/wait.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

const silent = pino({ level: 'silent' });
const APP = 'shop';
/** A namespace the chart lists nowhere, with an app of its own. */
const OTHER_NS = 'other-team';

interface Mode {
  readonly title: string;
  readonly values?: object;
  /** Where the chart's platform config puts app `shop`. */
  readonly namespace: string;
}

const MODES: readonly Mode[] = [
  {
    title: 'shared namespace, its config Secret listed',
    values: { appNamespaces: [{ name: 'apps', configSecretNames: [`${APP}-config`] }] },
    namespace: 'apps',
  },
  {
    title: 'per-app namespaces, config Secrets pinned by name',
    values: {
      platform: { namespaceMode: 'per-app', namespacePrefix: 'app-' },
      appNamespaces: [
        { name: 'app-shop', allowedImagePrefixes: ['registry.example/'] },
        { name: 'app-blog', allowedImagePrefixes: ['registry.example/'] },
      ],
    },
    namespace: 'app-shop',
  },
];

interface PlatformSection {
  type: string;
  [k: string]: unknown;
}

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += (chunk as Buffer).toString();
  return text;
}

const session = (extra: Partial<ConsoleOptions> = {}): ConsoleOptions => ({
  sessionId: `s-${randomBytes(4).toString('hex')}`,
  user: 'dev@example.com',
  ...extra,
});

function consolePods(fake: FakeApiServer, namespace: string): KubeObject[] {
  return fake
    .list('pods', namespace)
    .filter((p) => p.metadata?.labels?.['neetodeploy.com/console'] === 'true');
}

for (const mode of MODES) {
  describe(`chart RBAC in the fake API server: ${mode.title}`, function () {
    this.timeout(30_000);
    const sa = serviceAccountNames();
    let fake: FakeApiServer;
    let bastionToken: string;
    let keysToken: string;
    let bastionPlatform: KubernetesPlatform;
    let keysPlatform: KubernetesPlatform;
    let webPod: string;
    let otherPod: string;
    let tmp: Awaited<ReturnType<typeof tempDir>>;

    /** The platform section of a rendered server config, minus `type`, on `user`'s kubeconfig. */
    function platformConfigFrom(
      section: unknown,
      user: string,
      objects: readonly K8sObject[],
    ): KubernetesPlatformConfigInput {
      const { type, ...rest } = withNamespacesFileIn(
        section as PlatformSection,
        objects,
        path.join(tmp.dir, `app-namespaces-${user.split(':').pop()}`),
      ) as PlatformSection;
      assert.equal(type, 'kubernetes');
      return {
        ...(rest as KubernetesPlatformConfigInput),
        kubeconfigPath: fake.kubeconfigPath(user, DEFAULT_NAMESPACE),
      };
    }

    before(async function () {
      tmp = await tempDir();
      const objects = await renderChart(mode.values);
      const rbacYaml = await chartRbacYaml(mode.values);
      fake = await startFakeApiServer({ rbacYaml });
      webPod = seedApp(fake, APP, mode.namespace);
      otherPod = seedApp(fake, 'intruder', OTHER_NS);
      bastionToken = fake.serviceAccountToken(DEFAULT_NAMESPACE, sa.bastion);
      keysToken = fake.serviceAccountToken(DEFAULT_NAMESPACE, sa.keysService);
      const bastionCm = findObject(objects, 'ConfigMap', sa.bastion, DEFAULT_NAMESPACE);
      const keysCm = findObject(objects, 'ConfigMap', sa.keysService, DEFAULT_NAMESPACE);
      const bastionConfig = configMapYaml(bastionCm, 'bastion.yaml') as { platform: unknown };
      const keysConfig = configMapYaml(keysCm, 'keys-service.yaml') as { platform: unknown };
      bastionPlatform = await createKubernetesPlatform(
        platformConfigFrom(
          bastionConfig.platform,
          serviceAccountUsername(DEFAULT_NAMESPACE, sa.bastion),
          objects,
        ),
        { logger: silent },
      );
      keysPlatform = await createKubernetesPlatform(
        platformConfigFrom(
          keysConfig.platform,
          serviceAccountUsername(DEFAULT_NAMESPACE, sa.keysService),
          objects,
        ),
        { logger: silent },
      );
      await waitForPodRunning(fake, mode.namespace, webPod);
    });

    after(async function () {
      await bastionPlatform?.close();
      await keysPlatform?.close();
      await fake?.stop();
      await tmp?.cleanup();
    });

    describe('as the bastion', function () {
      it('lists the app’s pods', async function () {
        const processes = await bastionPlatform.listProcesses(APP);
        assert.ok(processes.length >= 1, JSON.stringify(processes));
      });

      it('creates a labelled console pod, execs in it and deletes it', async function () {
        const con = await bastionPlatform.openConsole(
          APP,
          session({ command: 'echo from-console' }),
        );
        const pods = consolePods(fake, mode.namespace);
        assert.equal(pods.length, 1);
        assert.equal(pods[0]!.metadata?.labels?.['neetodeploy.com/console-app'], APP);
        const out = collect(con.stdout);
        con.stdin.end();
        assert.deepEqual(await con.done, { code: 0 });
        assert.equal((await out).trim(), 'from-console');
        await waitUntil(
          'the console pod deleted',
          () => consolePods(fake, mode.namespace).length === 0,
          10_000,
          20,
        );
      });

      it('execs into a running pod of the app', async function () {
        const con = await bastionPlatform.openConsole(
          APP,
          session({ command: 'echo in-web', target: { pod: webPod } }),
        );
        assert.equal(con.where, `${mode.namespace}/${webPod}`);
        const out = collect(con.stdout);
        con.stdin.end();
        assert.deepEqual(await con.done, { code: 0 });
        assert.equal((await out).trim(), 'in-web');
      });

      // Per-app mode too: the platform lists each app namespace the chart names, never the cluster.
      it('runs its orphan-console reaper (lists console pods, deletes ended ones)', async function () {
        const name = `${APP}-console-orphan`;
        fake.create({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name,
            namespace: mode.namespace,
            labels: { 'neetodeploy.com/console': 'true', 'neetodeploy.com/console-app': APP },
          },
          spec: { containers: [{ name: 'web', image: 'registry.example/app:1' }] },
        });
        await waitForPodRunning(fake, mode.namespace, name);
        fake.setPodPhase(mode.namespace, name, 'Succeeded');
        const reaped = await bastionPlatform.reapOrphans();
        assert.deepEqual(reaped, [`${mode.namespace}/${name}`]);
      });

      it('gets 403 for Secrets, other namespaces and anything cluster-wide', async function () {
        const forbidden: [string, string][] = [
          ['GET', `/api/v1/namespaces/${mode.namespace}/secrets/${APP}-config`],
          ['GET', `/api/v1/namespaces/${mode.namespace}/secrets`],
          ['GET', `/api/v1/namespaces/${OTHER_NS}/pods/${otherPod}/exec?command=id&stdout=true`],
          ['POST', `/api/v1/namespaces/${OTHER_NS}/pods/${otherPod}/exec?command=id&stdout=true`],
          ['GET', `/api/v1/namespaces/${OTHER_NS}/pods`],
          ['GET', '/api/v1/pods'],
          ['GET', '/api/v1/secrets'],
          ['GET', '/apis/apps/v1/deployments'],
          ['PATCH', `/apis/apps/v1/namespaces/${mode.namespace}/deployments/${APP}-web`],
        ];
        for (const [method, urlPath] of forbidden) {
          const body = method === 'PATCH' ? {} : undefined;
          const res = await apiRequest(fake, bastionToken, method, urlPath, body);
          assert.equal(res.status, 403, `${method} ${urlPath}: ${res.text}`);
        }
        // Config vars are the keys-service's business: the bastion's platform is refused them.
        await assert.rejects(
          bastionPlatform.getConfigVars(APP),
          (err: unknown) => err instanceof AccessDenied,
        );
      });
    });

    describe('as the keys-service', function () {
      it('updates config vars (Secret update) and restarts the app (Deployment patch)', async function () {
        const before = fake.get('deployments.apps', mode.namespace, `${APP}-web`);
        const updated = await keysPlatform.updateConfigVars(APP, { set: { COLOR: 'blue' } });
        assert.deepEqual(updated.vars, { GREETING: 'hello', COLOR: 'blue' });
        const secret = fake.get('secrets', mode.namespace, `${APP}-config`) as {
          data?: Record<string, string>;
        };
        assert.equal(Buffer.from(secret.data?.COLOR ?? '', 'base64').toString(), 'blue');
        const after = fake.get('deployments.apps', mode.namespace, `${APP}-web`) as KubeObject & {
          spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
        };
        assert.notEqual(after.metadata?.resourceVersion, before?.metadata?.resourceVersion);
        assert.ok(
          after.spec?.template?.metadata?.annotations?.['neetodeploy.com/restartedAt'],
          'the rolling-restart annotation is set',
        );
      });

      it('reads the app’s logs (pods/log)', async function () {
        fake.appendPodLog(mode.namespace, webPod, undefined, 'hello from the log');
        const lines: string[] = [];
        for await (const l of keysPlatform.streamLogs(APP, { tail: 10 })) lines.push(l.line);
        assert.ok(lines.includes('hello from the log'), JSON.stringify(lines));
      });

      it('gets 403 for exec, pod creation and other namespaces’ Secrets', async function () {
        const forbidden: [string, string][] = [
          [
            'POST',
            `/api/v1/namespaces/${mode.namespace}/pods/${webPod}/exec?command=id&stdout=true`,
          ],
          ['GET', `/api/v1/namespaces/${OTHER_NS}/secrets/intruder-config`],
          ['GET', `/api/v1/namespaces/${mode.namespace}/secrets`],
          ['GET', '/api/v1/secrets'],
          ['GET', '/api/v1/pods'],
        ];
        for (const [method, urlPath] of forbidden) {
          const res = await apiRequest(fake, keysToken, method, urlPath);
          assert.equal(res.status, 403, `${method} ${urlPath}: ${res.text}`);
        }
        const create = await apiRequest(
          fake,
          keysToken,
          'POST',
          `/api/v1/namespaces/${mode.namespace}/pods`,
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'sneaky' },
            spec: { containers: [{ name: 'c', image: 'x' }] },
          },
        );
        assert.equal(create.status, 403, create.text);
      });

      it('reads only the Secrets the chart pins (the app’s config Secret)', async function () {
        fake.create({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'database-password', namespace: mode.namespace },
          data: { PASSWORD: Buffer.from('x').toString('base64') },
        });
        const res = await apiRequest(
          fake,
          keysToken,
          'GET',
          `/api/v1/namespaces/${mode.namespace}/secrets/database-password`,
        );
        // Pinned in both modes: listed (shared) or derived (per-app).
        assert.equal(res.status, 403, res.text);
      });

      it('lists the apps (`GET /api/v1/apps` of the keys-service)', async function () {
        const apps = await keysPlatform.listApps();
        assert.ok(
          apps.some((a) => a.name === APP),
          JSON.stringify(apps),
        );
      });
    });
  });
}
