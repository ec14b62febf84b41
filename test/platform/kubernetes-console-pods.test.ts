/**
 * One-off consoles of the kubernetes platform: locked-down pods made from the app's template,
 * deleted when the console ends or does not start.
 */
import assert from 'node:assert/strict';
import {
  Unavailable,
  buildConsolePod,
  createKubernetesPlatform,
  kubernetesPlatformConfigSchema,
  type KubernetesPlatform,
} from '@neetodeploy/platform';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver/index.js';
import { within } from '../support/platform-conformance.js';
import {
  APP_LABEL,
  PROCESS_LABEL,
  app,
  collectText,
  collectUntil,
  consolePods,
  platformConfig,
  seedApp,
  session,
  silent,
  startShop,
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
      await waitUntil('console pod deleted', () => consolePods(fake, app).length === 0, 10_000, 20);
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

    it("keeps only the app's config Secret and keyed tolerations (the admission allow-list)", () => {
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
            spec: {
              tolerations: [
                { operator: 'Exists' },
                { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' },
                { key: 'dedicated', operator: 'Equal', value: 'apps' },
              ],
              volumes: [
                { name: 'cfg', secret: { secretName: 'shop-config' } },
                { name: 'other', secret: { secretName: 'blog-config' } },
                { name: 'mixed', projected: { sources: [{ secret: { name: 'database' } }] } },
                { name: 'cm', projected: { sources: [{ configMap: { name: 'settings' } }] } },
                { name: 'csi', csi: { driver: 'secrets-store.csi.k8s.io' } },
              ],
              containers: [
                {
                  name: 'web',
                  image: 'registry.example/app:1',
                  envFrom: [
                    { secretRef: { name: 'shop-config' } },
                    { secretRef: { name: 'database' } },
                    { configMapRef: { name: 'settings' } },
                  ],
                  env: [
                    { name: 'PLAIN', value: '1' },
                    { name: 'OWN', valueFrom: { secretKeyRef: { name: 'shop-config', key: 'A' } } },
                    { name: 'PW', valueFrom: { secretKeyRef: { name: 'database', key: 'pw' } } },
                  ],
                },
              ],
            },
          },
        },
        config,
      );
      const spec = pod.spec!;
      assert.deepEqual(
        spec.volumes?.map((v) => v.name),
        ['cfg', 'cm'],
      );
      assert.deepEqual(spec.tolerations, [{ key: 'dedicated', operator: 'Equal', value: 'apps' }]);
      const container = spec.containers[0]!;
      assert.deepEqual(container.envFrom, [
        { secretRef: { name: 'shop-config' } },
        { configMapRef: { name: 'settings' } },
      ]);
      assert.deepEqual(
        container.env?.map((e) => e.name),
        ['PLAIN', 'OWN'],
      );
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
        await waitUntil(
          'pending pod deleted',
          () => consolePods(slowFake, app).length === 0,
          10_000,
          20,
        );
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
        await waitUntil(
          'cancelled pod deleted',
          () => consolePods(slowFake, app).length === 0,
          10_000,
          20,
        );
      } finally {
        await slow.close();
        await slowFake.stop();
      }
    });
  });
});
