/**
 * The kubernetes platform over the fake API server: the shared Platform conformance suite,
 * then what only Kubernetes has (console pods, RBAC refusals, Secret conflicts, restarts,
 * logs of pods that come later, the orphan reaper).
 */
import pino from 'pino';
import {
  createKubernetesPlatform,
  type KubernetesPlatform,
  type KubernetesPlatformConfigInput,
} from '@neetodeploy/platform';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver/index.js';
import { runPlatformConformance } from '../support/platform-conformance.js';

export const APP_LABEL = 'neetodeploy.com/app';
export const PROCESS_LABEL = 'neetodeploy.com/process';

/** A Deployment of `app`'s `process` type, as an app's deploy would create it. */
export function deployment(app: string, namespace: string, process: string, extraSpec: Record<string, unknown> = {}): KubeObject {
  const labels = { [APP_LABEL]: app, [PROCESS_LABEL]: process };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${app}-${process}`, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: process,
              image: 'registry.example/app:1',
              env: [{ name: 'FROM_TEMPLATE', value: 'yes' }],
              envFrom: [{ secretRef: { name: `${app}-config` } }],
            },
          ],
          ...extraSpec,
        },
      },
    },
  };
}

/** A running pod of a Deployment (the fake runs no controllers: tests create pods). */
export function appPod(app: string, namespace: string, process: string, suffix: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-${process}-5d8f7-${suffix}`,
      namespace,
      labels: { [APP_LABEL]: app, [PROCESS_LABEL]: process },
    },
    spec: {
      containers: [
        {
          name: process,
          image: 'registry.example/app:1',
          envFrom: [{ secretRef: { name: `${app}-config` } }],
        },
      ],
    },
  };
}

export function seedApp(fake: FakeApiServer, app: string, namespace = app): string {
  fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  fake.create(deployment(app, namespace, 'web'));
  fake.create({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: `${app}-config`, namespace, labels: { [APP_LABEL]: app } },
    data: { GREETING: Buffer.from('hello').toString('base64') },
  });
  const pod = appPod(app, namespace, 'web', 'a1b2c');
  fake.create(pod);
  return pod.metadata?.name ?? '';
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const silent = pino({ level: 'silent' });

export function platformConfig(fake: FakeApiServer, extra: Partial<KubernetesPlatformConfigInput> = {}): KubernetesPlatformConfigInput {
  return {
    kubeconfigPath: fake.kubeconfigPath(),
    reaper: { intervalMs: 0, heartbeatIntervalMs: 60_000, staleAfterMs: 180_000, graceMs: 120_000 },
    logs: { maxStreams: 50, reconnectDelayMs: 50 },
    console: {
      startTimeoutMs: 10_000,
      stopGraceMs: 1000,
      activeDeadlineSeconds: 3600,
      terminationGracePeriodSeconds: 1,
    },
    ...extra,
  };
}

runPlatformConformance(
  'kubernetes (fake API server)',
  async () => {
    const fake = await startFakeApiServer();
    const app = 'conformance';
    const pod = seedApp(fake, app);
    let ticks = 0;
    const ticker = setInterval(() => {
      try {
        fake.appendPodLog(app, pod, undefined, `tick ${++ticks}`);
      } catch {
        // The pod is gone at the end of the run.
      }
    }, 100);
    let platform: KubernetesPlatform | undefined;
    try {
      platform = await createKubernetesPlatform(platformConfig(fake), { logger: silent });
    } catch (err) {
      clearInterval(ticker);
      await fake.stop();
      throw err;
    }
    const ready = platform;
    return {
      platform: ready,
      app,
      async cleanup() {
        clearInterval(ticker);
        await ready.close();
        await fake.stop();
      },
    };
  },
  { logIntervalMs: 300, processesAreLocal: true },
);
