/**
 * Consoles in running pods of the kubernetes platform: targets, signals and kills through a second
 * exec, refusals, protocol v4, and exit statuses as a shell reads them.
 */
import assert from 'node:assert/strict';
import {
  AccessDenied,
  NotFound,
  createKubeClient,
  createKubernetesPlatform,
  exitStatusOf,
  loadKubeConfig,
  type KubeClient,
  type KubernetesPlatform,
} from '@neetodeploy/platform';
import {
  serviceAccountUsername,
  startFakeApiServer,
  type FakeApiServer,
} from '../support/fake-apiserver/index.js';
import { within } from '../support/platform-conformance.js';
import {
  app,
  appPod,
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
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

describe('kubernetes platform', function () {
  this.timeout(20_000);
  let fake: FakeApiServer;
  let platform: KubernetesPlatform;
  let webPod: string;

  before(async () => {
    ({ fake, platform, webPod } = await startShop());
  });

  after(async () => {
    await platform?.close();
    await fake?.stop();
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
      await waitUntil('exec sessions ended', () => fake.activeExecs() === 0, 10_000, 20);
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
      await waitForPodRunning(fake, app, name);
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
});
