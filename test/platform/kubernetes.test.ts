/**
 * The kubernetes platform over the fake API server: the shared Platform conformance suite,
 * then what only Kubernetes has (console pods, RBAC refusals, Secret conflicts, restarts,
 * logs of pods that come later, the orphan reaper).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import {
  AccessDenied,
  NotFound,
  Unavailable,
  buildConsolePod,
  createKubeClient,
  createKubernetesPlatform,
  exitStatusOf,
  kubernetesPlatformConfigSchema,
  loadKubeConfig,
  type ConsoleOptions,
  type KubeClient,
  type KubernetesPlatform,
  type KubernetesPlatformConfigInput,
  type LogLine,
} from '@neetodeploy/platform';
import {
  serviceAccountUsername,
  startFakeApiServer,
  type FakeApiServer,
  type KubeObject,
} from '../support/fake-apiserver/index.js';
import { runPlatformConformance, within } from '../support/platform-conformance.js';

const APP_LABEL = 'neetodeploy.com/app';
const PROCESS_LABEL = 'neetodeploy.com/process';

/** A Deployment of `app`'s `process` type, as an app's deploy would create it. */
function deployment(
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
function appPod(app: string, namespace: string, process: string, suffix: string): KubeObject {
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

function seedApp(fake: FakeApiServer, app: string, namespace = app): string {
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

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const silent = pino({ level: 'silent' });

function platformConfig(
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

interface PodLike {
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

function consolePods(fake: FakeApiServer, namespace: string): PodLike[] {
  return (fake.list('pods', namespace) as PodLike[]).filter(
    (p) => p.metadata?.labels?.['neetodeploy.com/console'] === 'true',
  );
}

async function collectText(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += (chunk as Buffer).toString();
  return text;
}

describe('kubernetes platform', function () {
  this.timeout(20_000);
  let fake: FakeApiServer;
  let platform: KubernetesPlatform;
  const app = 'shop';
  let webPod: string;
  const session = (extra: Partial<ConsoleOptions> = {}): ConsoleOptions => ({
    sessionId: `s-${randomBytes(4).toString('hex')}`,
    user: 'dev@example.com',
    ...extra,
  });

  before(async () => {
    fake = await startFakeApiServer();
    webPod = seedApp(fake, app);
    platform = await createKubernetesPlatform(platformConfig(fake), { logger: silent });
    await waitFor('web pod running', () => {
      const pod = fake.get('pods', app, webPod) as { status?: { phase?: string } } | undefined;
      return pod?.status?.phase === 'Running';
    });
  });

  after(async () => {
    await platform?.close();
    await fake?.stop();
  });

  describe('one-off console pods', () => {
    it('runs in a locked-down pod made from the web template, deleted afterwards', async () => {
      const statuses: string[] = [];
      const console = await platform.openConsole(
        app,
        session({
          command: 'printf "%s|%s|%s" "$FROM_TEMPLATE" "$GREETING" "$(cat)"',
          sessionId: 'session-abc',
          onStatus: (m) => statuses.push(m),
        }),
      );
      const pods = consolePods(fake, app);
      assert.equal(pods.length, 1);
      const pod = pods[0]!;
      assert.match(statuses[0] ?? '', /^waiting for console pod shop-console-[0-9a-f]+ to start/);
      assert.equal(console.where, `${app}/${pod.metadata?.name}`);
      assert.deepEqual(pod.metadata?.labels, {
        'neetodeploy.com/console-app': app,
        'neetodeploy.com/console': 'true',
        'neetodeploy.com/session': 'session-abc',
      });
      assert.equal(pod.metadata?.annotations?.['neetodeploy.com/user'], 'dev@example.com');
      const spec = pod.spec!;
      assert.equal(spec.activeDeadlineSeconds, 3600);
      assert.equal(spec.automountServiceAccountToken, false);
      assert.equal(spec.restartPolicy, 'Never');
      assert.deepEqual(spec.securityContext, {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const container = spec.containers[0]!;
      assert.equal(container.image, 'registry.example/app:1');
      assert.deepEqual(container.env, [{ name: 'FROM_TEMPLATE', value: 'yes' }]);
      assert.deepEqual(container.envFrom, [{ secretRef: { name: 'shop-config' } }]);
      assert.match(container.command?.join(' ') ?? '', /sleep 3600/);
      assert.deepEqual(container.resources?.limits, { cpu: '1', memory: '512Mi' });
      assert.deepEqual(container.securityContext, {
        runAsNonRoot: true,
        privileged: false,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const out = collectText(console.stdout);
      console.stdin.end('from-stdin');
      assert.deepEqual(await within(10_000, console.done, 'console end'), { code: 0 });
      assert.equal(await out, 'yes|hello|from-stdin');
      await waitFor('console pod deleted', () => consolePods(fake, app).length === 0);
    });

    it('cannot be loosened by the template', () => {
      const config = kubernetesPlatformConfigSchema.parse({});
      const pod = buildConsolePod(
        {
          app,
          namespace: app,
          process: 'web',
          sessionId: 's',
          suffix: 'abcd',
          user: 'u',
          configSecret: 'shop-config',
          now: new Date(),
          template: {
            metadata: { labels: { [APP_LABEL]: app, [PROCESS_LABEL]: 'web' } },
            spec: {
              hostNetwork: true,
              hostPID: true,
              hostIPC: true,
              serviceAccountName: 'powerful',
              automountServiceAccountToken: true,
              securityContext: { runAsUser: 0, runAsNonRoot: false },
              initContainers: [{ name: 'init', image: 'evil' }],
              volumes: [
                { name: 'host', hostPath: { path: '/' } },
                { name: 'data', persistentVolumeClaim: { claimName: 'db' } },
                {
                  name: 'token',
                  projected: { sources: [{ serviceAccountToken: { path: 'token' } }] },
                },
                { name: 'scratch', emptyDir: {} },
              ],
              containers: [
                {
                  name: 'web',
                  image: 'registry.example/app:1',
                  securityContext: {
                    privileged: true,
                    runAsUser: 0,
                    allowPrivilegeEscalation: true,
                    capabilities: { add: ['SYS_ADMIN'] },
                    seccompProfile: { type: 'Unconfined' },
                  },
                  volumeMounts: [
                    { name: 'host', mountPath: '/host' },
                    { name: 'data', mountPath: '/data' },
                    { name: 'token', mountPath: '/var/run/secrets' },
                    { name: 'scratch', mountPath: '/tmp' },
                  ],
                  livenessProbe: { exec: { command: ['true'] } },
                  ports: [{ containerPort: 80 }],
                },
              ],
            },
          },
        },
        config,
      );
      const spec = pod.spec!;
      assert.equal(spec.hostNetwork, false);
      assert.equal(spec.hostPID, false);
      assert.equal(spec.hostIPC, false);
      assert.equal(spec.automountServiceAccountToken, false);
      assert.equal(spec.serviceAccountName, undefined);
      assert.equal(spec.initContainers, undefined);
      assert.deepEqual(spec.securityContext, {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.deepEqual(
        spec.volumes?.map((v) => v.name),
        ['scratch'],
      );
      const container = spec.containers[0]!;
      assert.deepEqual(
        container.volumeMounts?.map((m) => m.name),
        ['scratch'],
      );
      assert.deepEqual(container.securityContext, {
        runAsNonRoot: true,
        privileged: false,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.equal(container.livenessProbe, undefined);
      assert.equal(container.ports, undefined);
      assert.deepEqual(container.envFrom, [{ secretRef: { name: 'shop-config', optional: true } }]);
    });

    it('deletes the pod when the client goes away, and stops the processes', async () => {
      const console = await platform.openConsole(
        app,
        session({ command: 'echo "pid=$$"; exec sleep 60' }),
      );
      const seen = await collectUntil(console.stdout, /pid=(\d+)/);
      const pid = Number(/pid=(\d+)/.exec(seen)?.[1]);
      assert.equal(consolePods(fake, app).length, 1);
      console.kill();
      const status = await within(10_000, console.done, 'done after kill');
      assert.ok(status.signal !== undefined);
      assert.equal(consolePods(fake, app).length, 0);
      assert.throws(() => process.kill(pid, 0), /ESRCH/);
    });

    it('tells the user when the console pod does not start, and cleans up', async () => {
      const slowFake = await startFakeApiServer({ kubelet: { startDelayMs: false } });
      const slow = await createKubernetesPlatform(
        platformConfig(slowFake, {
          console: { startTimeoutMs: 300, terminationGracePeriodSeconds: 1 },
        }),
        { logger: silent },
      );
      try {
        seedApp(slowFake, app);
        await assert.rejects(
          slow.openConsole(app, session({ command: 'true' })),
          (err: unknown) => {
            assert.ok(err instanceof Unavailable);
            assert.match(err.userMessage, /did not start within/);
            return true;
          },
        );
        await waitFor('pending pod deleted', () => consolePods(slowFake, app).length === 0);
        // Cancelled by the caller (the SSH client went away) while waiting: cleaned up too.
        const controller = new AbortController();
        await assert.rejects(
          slow.openConsole(
            app,
            session({
              command: 'true',
              signal: controller.signal,
              onStatus: () => controller.abort(new Error('client gone')),
            }),
          ),
          /client gone/,
        );
        await waitFor('cancelled pod deleted', () => consolePods(slowFake, app).length === 0);
      } finally {
        await slow.close();
        await slowFake.stop();
      }
    });
  });

  describe('exit statuses', () => {
    it('reads the Status of channel 3 as a shell reads $?', () => {
      assert.deepEqual(exitStatusOf({ status: 'Success' }), { exit: { code: 0 } });
      const nonZero = (code: string) => ({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: code }] },
      });
      assert.deepEqual(exitStatusOf(nonZero('42')).exit, { code: 42 });
      assert.deepEqual(exitStatusOf(nonZero('128')).exit, { code: 128 });
      assert.deepEqual(exitStatusOf(nonZero('143')).exit, { signal: 'TERM' });
      assert.deepEqual(exitStatusOf(nonZero('137')).exit, { signal: 'KILL' });
      assert.deepEqual(exitStatusOf(nonZero('200')).exit, { code: 200 });
      const missing = exitStatusOf({
        status: 'Failure',
        reason: 'InternalError',
        message: 'exec: "bash": executable file not found in $PATH',
      });
      assert.deepEqual(missing.exit, { code: 127 });
      assert.match(missing.message ?? '', /executable file not found/);
    });
  });

  describe('exec into running pods', () => {
    it('targets a process type or a pod by name or instance name', async () => {
      for (const target of [{ process: 'web' }, { pod: webPod }, { pod: 'web.a1b2c' }]) {
        const console = await platform.openConsole(
          app,
          session({ command: 'printf "%s" "$HOSTNAME"', target }),
        );
        const out = collectText(console.stdout);
        console.stdin.end();
        assert.deepEqual(await within(10_000, console.done, 'exec end'), { code: 0 });
        assert.equal(await out, webPod);
        assert.equal(console.where, `${app}/${webPod}`);
      }
      assert.equal(consolePods(fake, app).length, 0, 'no one-off pod for a targeted console');
      await assert.rejects(
        platform.openConsole(app, session({ command: 'true', target: { process: 'worker' } })),
        NotFound,
      );
      await assert.rejects(
        platform.openConsole(app, session({ command: 'true', target: { pod: 'other-pod' } })),
        NotFound,
      );
    });

    it('delivers signals and kills through a second exec (no signal channel in exec)', async () => {
      const console = await platform.openConsole(
        app,
        session({
          command: "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done",
          target: { process: 'web' },
        }),
      );
      void collectText(console.stderr);
      await collectUntil(console.stdout, /ready/);
      console.signal('USR1');
      await collectUntil(console.stdout, /got-usr1/);
      console.kill();
      const status = await within(10_000, console.done, 'done after kill');
      assert.ok(status.signal !== undefined);
      await waitFor('exec sessions ended', () => fake.activeExecs() === 0);
      assert.equal(
        (fake.get('pods', app, webPod) as { status?: { phase?: string } }).status?.phase,
        'Running',
      );
    });

    it('surfaces an exec refused by RBAC (403) as a clear AccessDenied', async () => {
      fake.serviceAccountToken(app, 'limited');
      fake.loadRbacYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: limited, namespace: ${app} }
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: limited, namespace: ${app} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: limited }
subjects: [{ kind: ServiceAccount, name: limited, namespace: ${app} }]
`);
      const limited = await createKubernetesPlatform(
        {
          ...platformConfig(fake),
          kubeconfigPath: fake.kubeconfigPath(serviceAccountUsername(app, 'limited')),
        },
        { logger: silent },
      );
      try {
        assert.equal((await limited.getApp(app)).name, app);
        await assert.rejects(
          limited.openConsole(app, session({ command: 'true', target: { process: 'web' } })),
          (err: unknown) => {
            assert.ok(err instanceof AccessDenied, String(err));
            assert.match(err.userMessage, /not allowed to open a console/);
            return true;
          },
        );
        await assert.rejects(
          limited.openConsole(app, session({ command: 'true' })),
          (err: unknown) => {
            assert.ok(err instanceof AccessDenied, String(err));
            assert.match(err.userMessage, /console for shop: the platform is not allowed/);
            return true;
          },
        );
        await assert.rejects(limited.getConfigVars(app), AccessDenied);
      } finally {
        await limited.close();
      }
    });

    it('surfaces a pod gone at the exec handshake (404) as NotFound', async () => {
      const doomed = appPod(app, app, 'web', 'gone1');
      fake.create(doomed);
      const name = doomed.metadata?.name ?? '';
      await waitFor('doomed pod running', () => {
        const pod = fake.get('pods', app, name) as { status?: { phase?: string } } | undefined;
        return pod?.status?.phase === 'Running';
      });
      const client = createKubeClient(
        loadKubeConfig({ kubeconfigPath: fake.kubeconfigPath() }),
        5000,
      );
      const vanishing: KubeClient = {
        ...client,
        websocket(path, query, protocols) {
          // The pod goes away between the lookup and the exec.
          fake.delete('pods', app, name);
          return client.websocket(path, query, protocols);
        },
      };
      const racer = await createKubernetesPlatform(platformConfig(fake), {
        logger: silent,
        client: vanishing,
      });
      try {
        await assert.rejects(
          racer.openConsole(app, session({ command: 'true', target: { pod: name } })),
          (err: unknown) => {
            assert.ok(err instanceof NotFound, String(err));
            assert.match(err.userMessage, /the pod is gone/);
            return true;
          },
        );
      } finally {
        await racer.close();
        client.close();
      }
    });

    it('speaks v4.channel.k8s.io when the server offers nothing newer', async () => {
      const v4Fake = await startFakeApiServer({ execProtocols: ['v4.channel.k8s.io'] });
      const v4 = await createKubernetesPlatform(platformConfig(v4Fake), { logger: silent });
      try {
        seedApp(v4Fake, app);
        const console = await v4.openConsole(
          app,
          session({ command: 'printf v4-out; printf v4-err >&2; exit 7' }),
        );
        const out = collectText(console.stdout);
        const err = collectText(console.stderr);
        console.stdin.end();
        assert.deepEqual(await within(10_000, console.done, 'v4 end'), { code: 7 });
        assert.equal(await out, 'v4-out');
        assert.equal(await err, 'v4-err');
        assert.equal(v4Fake.execSessions().length, 0);
      } finally {
        await v4.close();
        await v4Fake.stop();
      }
    });
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

  describe('logs', () => {
    it('follows a pod that starts after the stream began, named by process', async () => {
      const controller = new AbortController();
      const lines: LogLine[] = [];
      const reading = (async () => {
        for await (const line of platform.streamLogs(app, {
          tail: 0,
          follow: true,
          signal: controller.signal,
        })) {
          lines.push(line);
          if (line.line === 'late pod says hi') controller.abort();
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      const late = appPod(app, app, 'web', 'z9y8x');
      fake.create(late);
      const name = late.metadata?.name ?? '';
      await waitFor('late pod running', () => {
        const pod = fake.get('pods', app, name) as { status?: { phase?: string } } | undefined;
        return pod?.status?.phase === 'Running';
      });
      await new Promise((r) => setTimeout(r, 300));
      fake.appendPodLog(app, name, undefined, 'late pod says hi');
      await within(10_000, reading, 'line from the late pod');
      const hi = lines.find((l) => l.line === 'late pod says hi');
      assert.equal(hi?.process, 'web.z9y8x');
      assert.equal(hi?.source, 'app');
      const processes = await platform.listProcesses(app);
      assert.deepEqual(
        processes.map((p) => [p.name, p.pod, p.state]),
        [
          ['web.a1b2c', webPod, 'running'],
          ['web.z9y8x', name, 'running'],
        ],
      );
      fake.delete('pods', app, name);
    });

    it('resumes after a container restart without duplicate lines', async () => {
      for (const n of [1, 2, 3]) fake.appendPodLog(app, webPod, undefined, `before-${n}`);
      const controller = new AbortController();
      const seen: string[] = [];
      const reading = (async () => {
        for await (const line of platform.streamLogs(app, {
          tail: 3,
          follow: true,
          signal: controller.signal,
        })) {
          seen.push(line.line);
          if (line.line === 'after-2') controller.abort();
        }
      })();
      await waitFor('backlog', () => seen.includes('before-3'));
      fake.appendPodLog(app, webPod, undefined, 'after-1');
      await waitFor('after-1', () => seen.includes('after-1'));
      fake.restartContainer(app, webPod);
      await new Promise((r) => setTimeout(r, 300));
      fake.appendPodLog(app, webPod, undefined, 'after-2');
      await within(10_000, reading, 'line after restart');
      assert.deepEqual(seen, ['before-1', 'before-2', 'before-3', 'after-1', 'after-2']);
    });

    it('shows only lines at or after since', async () => {
      fake.appendPodLog(app, webPod, undefined, 'old line');
      await new Promise((r) => setTimeout(r, 1100));
      const since = new Date();
      await new Promise((r) => setTimeout(r, 20));
      fake.appendPodLog(app, webPod, undefined, 'new line');
      const lines: string[] = [];
      for await (const line of platform.streamLogs(app, { since, tail: 1000 })) {
        assert.ok(line.time.getTime() >= since.getTime(), `${line.line} is older than since`);
        lines.push(line.line);
      }
      assert.ok(lines.includes('new line'));
      assert.ok(!lines.includes('old line'));
    });

    it('bounds the fan-out and says so', async () => {
      const fanFake = await startFakeApiServer();
      const fan = await createKubernetesPlatform(
        platformConfig(fanFake, { logs: { maxStreams: 1, reconnectDelayMs: 50 } }),
        { logger: silent },
      );
      try {
        const first = seedApp(fanFake, app);
        const second = appPod(app, app, 'web', 'q1w2e');
        fanFake.create(second);
        await waitFor('pods running', () =>
          (fanFake.list('pods', app) as { status?: { phase?: string } }[]).every(
            (p) => p.status?.phase === 'Running',
          ),
        );
        fanFake.appendPodLog(app, first, undefined, 'from first');
        fanFake.appendPodLog(app, second.metadata?.name ?? '', undefined, 'from second');
        const lines: LogLine[] = [];
        for await (const line of fan.streamLogs(app, { tail: 10 })) lines.push(line);
        assert.match(
          lines.find((l) => l.source === 'neetodeploy')?.line ?? '',
          /showing logs of 1 of 2 pods/,
        );
        assert.deepEqual(
          lines.filter((l) => l.source === 'app').map((l) => l.line),
          ['from first'],
        );
      } finally {
        await fan.close();
        await fanFake.stop();
      }
    });
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
        await waitFor('a newer heartbeat', () => beat() > first, 10_000);
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
        await waitFor('pods running', () =>
          consolePods(fake, app).every(
            (p) => (p as { status?: { phase?: string } }).status?.phase === 'Running',
          ),
        );
        fake.setPodPhase(app, 'shop-console-ended', 'Failed', { reason: 'DeadlineExceeded' });
        const reaped = await reaperPlatform.reapOrphans();
        assert.deepEqual(reaped.sort(), [
          `${app}/shop-console-ended`,
          `${app}/shop-console-orphan`,
        ]);
        await waitFor(
          'orphans gone',
          () =>
            consolePods(fake, app)
              .map((p) => p.metadata?.name)
              .sort()
              .join() === [livePod, 'shop-console-other-replica'].sort().join(),
        );
      } finally {
        live.kill();
        await live.done;
        await reaperPlatform.close();
        fake.delete('pods', app, 'shop-console-other-replica');
      }
    });
  });
});

async function collectUntil(
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
