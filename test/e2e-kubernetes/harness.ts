/**
 * Issue 6 end to end: the fake API server with the chart's own rendered RBAC, a bastion whose
 * kubernetes platform authenticates as the chart's bastion ServiceAccount (a Role in the app
 * namespace, no Secrets), a keys-service whose platform authenticates as the chart's
 * keys-service ServiceAccount, and the CLI (in-process or spawned) plus stock OpenSSH in front.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { Bastion } from '@neetodeploy/bastion';
import { createKubernetesPlatform } from '@neetodeploy/platform';
import type { KubernetesPlatform, KubernetesPlatformConfigInput } from '@neetodeploy/platform';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import { runCli } from '../../cli/src/cli.js';
import { makeCliConfig, saveCredentials } from '../../cli/src/config.js';
import type { CliConfig } from '../../cli/src/config.js';
import { createApiProvider } from '../../cli/src/session.js';
import { fakeIo, selfCommandForTests } from '../cli/harness.js';
import type { FakeIo } from '../cli/harness.js';
import { chartRbacYaml, DEFAULT_NAMESPACE, serviceAccountNames } from '../support/chart.js';
import {
  serviceAccountUsername,
  startFakeApiServer,
  type FakeApiServer,
  type KubeObject,
} from '../support/fake-apiserver/index.js';
import { ALICE, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import { startBastionForKeysService } from '../support/bastion-for-keys-service.js';
import { freePort } from '../support/openssh.js';

export { ALICE, fakeIo };
export type { FakeIo };

/** The chart's shared app namespace (values `appNamespaces[0]`). */
export const APPS_NAMESPACE = 'apps';
export const APP = 'shop';
export const APP_LABEL = 'neetodeploy.com/app';
export const PROCESS_LABEL = 'neetodeploy.com/process';
export const RESTART_ANNOTATION = 'neetodeploy.com/restartedAt';
export const CONSOLE_LABEL = 'neetodeploy.com/console';

const POLICY = `
rules:
  - users: [${ALICE}]
    apps: ["*"]
    permissions: [exec, logs, config:read, config:write]
`;

function webTemplateSpec(app: string): Record<string, unknown> {
  return {
    containers: [
      {
        name: 'web',
        image: 'registry.example/shop:1',
        env: [{ name: 'FROM_TEMPLATE', value: 'yes' }],
        envFrom: [{ secretRef: { name: `${app}-config` } }],
      },
    ],
  };
}

/** A running pod of the app's web Deployment (the fake runs no controllers). */
export function appPod(app: string, suffix: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-web-7c9d4-${suffix}`,
      namespace: APPS_NAMESPACE,
      labels: { [APP_LABEL]: app, [PROCESS_LABEL]: 'web' },
    },
    spec: webTemplateSpec(app),
  };
}

/** Namespace, config Secret, web Deployment and one web pod, as an app's deploy leaves them. */
export function seedApp(fake: FakeApiServer, app: string, vars: Record<string, string>): string {
  const labels = { [APP_LABEL]: app, [PROCESS_LABEL]: 'web' };
  fake.create({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: `${app}-config`, namespace: APPS_NAMESPACE, labels: { [APP_LABEL]: app } },
    data: Object.fromEntries(
      Object.entries(vars).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
  });
  fake.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${app}-web`, namespace: APPS_NAMESPACE, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: webTemplateSpec(app) },
    },
  });
  const pod = appPod(app, 'a1b2c');
  fake.create(pod);
  return pod.metadata?.name ?? '';
}

export function platformConfig(
  kubeconfigPath: string,
  extra: Partial<KubernetesPlatformConfigInput> = {},
): KubernetesPlatformConfigInput {
  return {
    kubeconfigPath,
    namespaces: { mode: 'shared', namespace: APPS_NAMESPACE },
    reaper: { intervalMs: 0, heartbeatIntervalMs: 60_000, staleAfterMs: 180_000, graceMs: 120_000 },
    logs: { maxStreams: 50, reconnectDelayMs: 50 },
    console: {
      startTimeoutMs: 15_000,
      stopGraceMs: 1000,
      activeDeadlineSeconds: 3600,
      terminationGracePeriodSeconds: 1,
    },
    ...extra,
  };
}

export interface K8sEnv {
  readonly root: string;
  readonly fake: FakeApiServer;
  readonly ks: TestKeysService;
  readonly bastionPlatform: KubernetesPlatform;
  readonly ksPlatform: KubernetesPlatform;
  readonly bastion: Bastion;
  readonly bastionPort: number;
  /** Bearer token of the chart's bastion ServiceAccount. */
  readonly bastionToken: string;
  readonly bastionUser: string;
  readonly webPod: string;
  /** The bastion's host key file (its `-cert.pub` beside it), plain public key and user CA file. */
  readonly hostKeyFile: string;
  readonly hostPublicKey: string;
  readonly userCaFile: string;
  config(name: string): CliConfig;
  loginAs(config: CliConfig, email: string): Promise<string>;
  run(config: CliConfig, argv: string[], io?: FakeIo): Promise<{ code: number; io: FakeIo }>;
  dispose(): Promise<void>;
}

export async function startK8sEnv(vars: Record<string, string>): Promise<K8sEnv> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-e2e-k8s-'));
  const logger = pino({ level: process.env.E2E_K8S_LOG ?? 'silent' });
  const cleanups: (() => Promise<void> | void)[] = [
    () => fs.rmSync(root, { recursive: true, force: true }),
  ];
  const dispose = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // Keep tearing down the rest.
      }
    }
  };
  try {
    const fake = await startFakeApiServer({ kubelet: { startDelayMs: 30 } });
    cleanups.push(() => fake.stop());
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: APPS_NAMESPACE } });
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEFAULT_NAMESPACE } });
    // The chart's own Roles and bindings, rendered by helm, are all the RBAC the fake knows.
    fake.loadRbacYaml(
      await chartRbacYaml({
        appNamespaces: [
          {
            name: APPS_NAMESPACE,
            allowedImagePrefixes: ['registry.example/'],
            configSecretNames: [`${APP}-config`],
          },
        ],
      }),
    );
    const names = serviceAccountNames();
    const bastionToken = fake.serviceAccountToken(DEFAULT_NAMESPACE, names.bastion);
    fake.serviceAccountToken(DEFAULT_NAMESPACE, names.keysService);
    const bastionUser = serviceAccountUsername(DEFAULT_NAMESPACE, names.bastion);
    const ksUser = serviceAccountUsername(DEFAULT_NAMESPACE, names.keysService);
    const webPod = seedApp(fake, APP, vars);

    const bastionPlatform = await createKubernetesPlatform(
      platformConfig(fake.kubeconfigPath(bastionUser, APPS_NAMESPACE)),
      { logger },
    );
    cleanups.push(() => bastionPlatform.close());
    const ksPlatform = await createKubernetesPlatform(
      platformConfig(fake.kubeconfigPath(ksUser, APPS_NAMESPACE)),
      { logger },
    );
    cleanups.push(() => ksPlatform.close());

    const hostKey = generatePrivateKey('ssh-ed25519');
    const hostPublicKey = encodePublicKeyText(hostKey.publicKey);
    const bastionPort = await freePort();
    const ks = await startKeysService({
      policy: POLICY,
      deps: { platform: ksPlatform },
      config: {
        loginSessions: { ttlSeconds: 60, intervalSeconds: 1 },
        // ssh2's client cannot check a host certificate: hand out the plain key.
        bastion: { host: '127.0.0.1', port: bastionPort, pinnedHostKey: hostPublicKey },
      },
    });
    cleanups.push(() => ks.dispose());

    const {
      bastion,
      hostKeyFile: keyFile,
      userCaFile: userCas,
    } = await startBastionForKeysService({
      dir: path.join(root, 'bastion'),
      hostKey,
      keysService: ks,
      port: bastionPort,
      platform: bastionPlatform,
      logger,
    });
    cleanups.push(() => bastion.stop());

    const caFile = path.join(root, 'api-ca.pem');
    fs.writeFileSync(caFile, ks.ca);
    const config = (name: string): CliConfig => {
      const home = path.join(root, name, 'home');
      fs.mkdirSync(home, { recursive: true });
      return makeCliConfig({
        version: '0.1.0-test',
        dir: path.join(home, '.config', 'neetodeploy'),
        home,
        overrides: {},
        selfCommand: selfCommandForTests(),
      });
    };
    return {
      root,
      fake,
      ks,
      bastionPlatform,
      ksPlatform,
      bastion,
      bastionPort,
      bastionToken,
      bastionUser,
      webPod,
      hostKeyFile: keyFile,
      hostPublicKey,
      userCaFile: userCas,
      config,
      async loginAs(cfg, email) {
        const token = await ks.token(email);
        await saveCredentials(cfg, { apiUrl: ks.address.url, token, email, caFile });
        return token;
      },
      async run(cfg, argv, io = fakeIo()) {
        const code = await runCli(argv, { io, api: createApiProvider(cfg), config: cfg });
        return { code, io };
      },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Console pods the platform made for the app (labelled as consoles), still in the store. */
export function consolePods(fake: FakeApiServer): KubeObject[] {
  return fake
    .list('pods', APPS_NAMESPACE)
    .filter((p) => p.metadata?.labels?.[CONSOLE_LABEL] !== undefined);
}
