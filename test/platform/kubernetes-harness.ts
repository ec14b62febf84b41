/**
 * Helpers of the kubernetes platform's tests over the fake API server: apps seeded as an app's
 * deploy would make them (Deployments, pods, a config Secret), a platform config with test
 * timings, and a ready `shop` app with its platform.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import {
  createKubernetesPlatform,
  type ConsoleOptions,
  type KubernetesPlatform,
  type KubernetesPlatformConfigInput,
} from '@neetodeploy/platform';
import {
  startFakeApiServer,
  type FakeApiServer,
  type KubeObject,
} from '../support/fake-apiserver/index.js';
import { within } from '../support/platform-conformance.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

export const APP_LABEL = 'neetodeploy.com/app';
export const PROCESS_LABEL = 'neetodeploy.com/process';

/** A Deployment of `app`'s `process` type, as an app's deploy would create it. */
export function deployment(
  app: string,
  namespace: string,
  process: string,
  extraSpec: Record<string, unknown> = {},
): KubeObject {
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
export function appPod(
  app: string,
  namespace: string,
  process: string,
  suffix: string,
): KubeObject {
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

export const silent = pino({ level: 'silent' });

export function platformConfig(
  fake: FakeApiServer,
  extra: Partial<KubernetesPlatformConfigInput> = {},
): KubernetesPlatformConfigInput {
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

export interface PodLike {
  metadata?: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    activeDeadlineSeconds?: number;
    automountServiceAccountToken?: boolean;
    restartPolicy?: string;
    hostNetwork?: boolean;
    hostPID?: boolean;
    securityContext?: Record<string, unknown>;
    serviceAccountName?: string;
    volumes?: { name: string }[];
    containers: {
      image?: string;
      command?: string[];
      env?: { name: string; value?: string }[];
      envFrom?: { secretRef?: { name?: string } }[];
      resources?: { limits?: Record<string, string> };
      securityContext?: Record<string, unknown>;
      volumeMounts?: { name: string }[];
    }[];
  };
}

export function consolePods(fake: FakeApiServer, namespace: string): PodLike[] {
  return (fake.list('pods', namespace) as PodLike[]).filter(
    (p) => p.metadata?.labels?.['neetodeploy.com/console'] === 'true',
  );
}

export async function collectText(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += (chunk as Buffer).toString();
  return text;
}

export async function collectUntil(
  stream: NodeJS.ReadableStream,
  pattern: RegExp,
  ms = 10_000,
): Promise<string> {
  let seen = '';
  let onData: ((chunk: Buffer) => void) | undefined;
  const found = new Promise<string>((resolve) => {
    onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve(seen);
    };
    stream.on('data', onData);
  });
  try {
    return await within(ms, found, `waiting for ${String(pattern)}`);
  } finally {
    if (onData) stream.removeListener('data', onData);
  }
}

/** The app most tests use. */
export const app = 'shop';

export const session = (extra: Partial<ConsoleOptions> = {}): ConsoleOptions => ({
  sessionId: `s-${randomBytes(4).toString('hex')}`,
  user: 'dev@example.com',
  ...extra,
});

export interface Shop {
  readonly fake: FakeApiServer;
  readonly platform: KubernetesPlatform;
  /** The running pod of shop's web process. */
  readonly webPod: string;
}

/** A fake API server with the `shop` app seeded and its web pod running, and a platform on it. */
export async function startShop(): Promise<Shop> {
  const fake = await startFakeApiServer();
  const webPod = seedApp(fake, app);
  const platform = await createKubernetesPlatform(platformConfig(fake), { logger: silent });
  await waitForPodRunning(fake, app, webPod);
  return { fake, platform, webPod };
}
