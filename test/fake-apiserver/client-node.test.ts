import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { request } from 'node:https';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  Log,
  makeInformer,
  type V1Pod,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Status,
} from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver/index.js';
import { waitForValue, waitUntil } from '../support/wait.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

function kubeConfig(fake: FakeApiServer, user?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(fake.kubeconfigPath(user));
  return kc;
}

interface WatchEvent {
  type: string;
  object: {
    metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
    code?: number;
    reason?: string;
    kind?: string;
  };
}

/** Collects watch events until `stop()`; `done` settles when the server ends the stream. */
async function collectWatch(kc: KubeConfig, path: string, query: Record<string, string | boolean>) {
  const events: WatchEvent[] = [];
  let finished: (err: unknown) => void = () => undefined;
  const done = new Promise<unknown>((resolve) => (finished = resolve));
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, object) => events.push({ type, object: object as WatchEvent['object'] }),
    (err) => finished(err),
  );
  return { events, done, stop: () => controller.abort() };
}

function collectStream(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

async function runExec(
  kc: KubeConfig,
  ns: string,
  pod: string,
  command: string[],
  stdinText?: string,
): Promise<{ stdout: string; stderr: string; status: V1Status; protocol: string }> {
  const out = collectStream();
  const err = collectStream();
  const stdin = stdinText === undefined ? null : Readable.from([Buffer.from(stdinText)]);
  let statusResolve: (s: V1Status) => void = () => undefined;
  const status = new Promise<V1Status>((resolve) => (statusResolve = resolve));
  const ws = await new Exec(kc).exec(
    ns,
    pod,
    'app',
    command,
    out.stream,
    err.stream,
    stdin,
    false,
    (s) => statusResolve(s),
  );
  const st = await status;
  await new Promise((r) => setTimeout(r, 20));
  return { stdout: out.text(), stderr: err.text(), status: st, protocol: ws.protocol };
}

/** client-node rejects a refused exec handshake with the websocket's error event. */
function handshakeRefused(code: number): (err: unknown) => boolean {
  return (err: unknown) =>
    (err as { message?: string }).message === `Unexpected server response: ${code}`;
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

describe('fake API server: @kubernetes/client-node 1.4.0', function () {
  this.timeout(20_000);
  let fake: FakeApiServer;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const ns = 'cn';

  before(async () => {
    fake = await startFakeApiServer({ kubelet: { startDelayMs: 20 }, bookmarkIntervalMs: 100 });
    kc = kubeConfig(fake);
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'web', labels: { app: 'demo' } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'busybox',
              env: [
                { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'env', key: 'TOKEN' } } },
              ],
            },
          ],
        },
      },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'env' }, stringData: { TOKEN: 's3cret' } },
    });
    await waitUntil(
      'pod running',
      () =>
        (fake.get('pods', ns, 'web')?.status as { phase?: string } | undefined)?.phase ===
        'Running',
      15_000,
    );
  });
  after(async () => {
    await fake?.stop();
  });

  it('loads the kubeconfig it writes and talks TLS with the CA in it', async () => {
    const list = await core.listNamespace();
    assert.deepEqual(list.items.map((n) => n.metadata?.name).sort(), [ns, 'default']);
    assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);
    assert.equal(kc.getCurrentCluster()?.server, fake.url);
  });

  it('rejects unknown tokens with a 401 Status', async () => {
    const res = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = request(
        `${fake.url}/api/v1/namespaces`,
        { ca: fake.caPem, headers: { Authorization: 'Bearer not-a-token' } },
        (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => resolve({ code: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.code, 401);
    assert.deepEqual(JSON.parse(res.body), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
  });

  it('SubjectAccessReview answers for another user; SelfSubjectAccessReview for the caller', async () => {
    fake.addUser('ops@example.com', ['ops']);
    fake.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'ops-view' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view-pods' },
      subjects: [{ kind: 'Group', name: 'ops', apiGroup: 'rbac.authorization.k8s.io' }],
    });
    fake.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'view-pods' },
      rules: [
        { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const review = (verb: string, resource: string, subresource?: string) =>
      authz.createSubjectAccessReview({
        body: {
          spec: {
            user: 'ops@example.com',
            groups: ['ops'],
            resourceAttributes: {
              namespace: ns,
              verb,
              resource,
              ...(subresource ? { subresource } : {}),
            },
          },
        },
      });
    const yes = await review('list', 'pods');
    assert.equal(yes.status?.allowed, true);
    assert.match(
      yes.status?.reason ?? '',
      /ClusterRoleBinding "ops-view" of ClusterRole "view-pods" to Group "ops"/,
    );
    assert.equal((await review('get', 'pods', 'log')).status?.allowed, true);
    assert.equal((await review('create', 'pods', 'exec')).status?.allowed, false);
    const opsKc = kubeConfig(fake, 'ops@example.com');
    const self = await opsKc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace: ns, verb: 'delete', resource: 'pods' } } },
    });
    assert.equal(self.status?.allowed, false);
    await assert.rejects(
      opsKc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
        body: { spec: { user: 'x', resourceAttributes: { verb: 'get', resource: 'pods' } } },
      }),
      (err: unknown) => err instanceof ApiException && err.code === 403,
    );
    await assert.rejects(
      opsKc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'web', namespace: ns }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException);
        assert.equal(err.code, 403);
        assert.equal(
          JSON.parse(err.body as string).message,
          `pods "web" is forbidden: User "ops@example.com" cannot delete resource "pods" in API group "" in the namespace "${ns}"`,
        );
        return true;
      },
    );
  });

  it('update with a stale resourceVersion gets 409 Conflict; not found and exists are Status objects', async () => {
    const cm = await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'cfg' }, data: { a: '1' } },
    });
    const first = await core.replaceNamespacedConfigMap({
      name: 'cfg',
      namespace: ns,
      body: { ...cm, data: { a: '2' } },
    });
    assert.notEqual(first.metadata?.resourceVersion, cm.metadata?.resourceVersion);
    await assert.rejects(
      core.replaceNamespacedConfigMap({
        name: 'cfg',
        namespace: ns,
        body: { ...cm, data: { a: '3' } },
      }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException);
        assert.equal(err.code, 409);
        assert.deepEqual(JSON.parse(err.body as string), {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message:
            'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again',
          reason: 'Conflict',
          details: { name: 'cfg', kind: 'configmaps' },
          code: 409,
        });
        return true;
      },
    );
    assert.deepEqual((await core.readNamespacedConfigMap({ name: 'cfg', namespace: ns })).data, {
      a: '2',
    });
    await assert.rejects(
      core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cfg' } } }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException);
        assert.equal(err.code, 409);
        assert.equal(JSON.parse(err.body as string).reason, 'AlreadyExists');
        return true;
      },
    );
    const apps = kc.makeApiClient(AppsV1Api);
    await assert.rejects(
      apps.readNamespacedDeployment({ name: 'nope', namespace: ns }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException);
        assert.deepEqual(JSON.parse(err.body as string), {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: 'deployments.apps "nope" not found',
          reason: 'NotFound',
          details: { name: 'nope', group: 'apps', kind: 'deployments' },
          code: 404,
        });
        return true;
      },
    );
  });

  it('list + watch from the list resourceVersion sees every later change, selector enter/leave included', async () => {
    const list = await core.listNamespacedConfigMap({
      namespace: ns,
      labelSelector: 'watched=yes',
    });
    const w = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, {
      resourceVersion: list.metadata!.resourceVersion!,
      labelSelector: 'watched=yes',
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'w1', labels: { watched: 'yes' } } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'w2', labels: { watched: 'no' } } },
    });
    await core.patchNamespacedConfigMap(
      { name: 'w1', namespace: ns, body: { data: { k: 'v' } } },
      merge,
    );
    await core.patchNamespacedConfigMap(
      { name: 'w2', namespace: ns, body: { metadata: { labels: { watched: 'yes' } } } },
      strategic,
    );
    await core.patchNamespacedConfigMap(
      { name: 'w1', namespace: ns, body: { metadata: { labels: { watched: 'no' } } } },
      merge,
    );
    await core.deleteNamespacedConfigMap({ name: 'w2', namespace: ns });
    await waitUntil('watch events', () => w.events.length >= 5, 15_000);
    w.stop();
    assert.deepEqual(
      w.events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`),
      ['ADDED w1', 'MODIFIED w1', 'ADDED w2', 'DELETED w1', 'DELETED w2'],
    );
    const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
    assert.deepEqual(
      [...rvs].sort((a, b) => a - b),
      rvs,
      'resourceVersions increase',
    );
    assert.ok(rvs[0]! > Number(list.metadata!.resourceVersion));
  });

  it('watch sends bookmarks and the initial-events-end bookmark, and 410 Expired for a compacted resourceVersion', async () => {
    const w = await collectWatch(kc, `/api/v1/namespaces/${ns}/pods`, {
      allowWatchBookmarks: true,
      sendInitialEvents: true,
      resourceVersionMatch: 'NotOlderThan',
    });
    await waitUntil(
      'bookmarks',
      () => w.events.filter((e) => e.type === 'BOOKMARK').length >= 2,
      15_000,
    );
    w.stop();
    assert.equal(w.events[0]!.type, 'ADDED');
    assert.equal(w.events[0]!.object.metadata?.name, 'web');
    assert.equal(w.events[1]!.type, 'BOOKMARK');
    assert.equal(w.events[1]!.object.metadata?.annotations?.['k8s.io/initial-events-end'], 'true');
    assert.equal(w.events[1]!.object.kind, 'Pod');

    const old = (await core.listNamespacedPod({ namespace: ns })).metadata!.resourceVersion!;
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'after-compaction' } },
    });
    fake.compactWatchHistory();
    const expired = await collectWatch(kc, `/api/v1/namespaces/${ns}/configmaps`, {
      resourceVersion: old,
    });
    await expired.done;
    assert.equal(expired.events.length, 1);
    assert.equal(expired.events[0]!.type, 'ERROR');
    assert.equal(expired.events[0]!.object.code, 410);
    assert.equal(expired.events[0]!.object.reason, 'Expired');
  });

  it('an informer (list + watch) sees adds, updates and deletes', async () => {
    const informer = makeInformer(
      kc,
      `/api/v1/namespaces/${ns}/pods`,
      () => core.listNamespacedPod({ namespace: ns, labelSelector: 'informed=yes' }),
      'informed=yes',
    );
    const seen: string[] = [];
    informer.on('add', (p: V1Pod) => seen.push(`add ${p.metadata?.name ?? ''}`));
    informer.on('update', (p: V1Pod) =>
      seen.push(`update ${p.metadata?.name ?? ''} ${p.status?.phase ?? ''}`),
    );
    informer.on('delete', (p: V1Pod) => seen.push(`delete ${p.metadata?.name ?? ''}`));
    await informer.start();
    try {
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'inf', labels: { informed: 'yes' } },
          spec: { containers: [{ name: 'app', image: 'x' }] },
        },
      });
      await waitUntil(
        `informer update (saw ${seen.join(', ')})`,
        () => seen.includes('update inf Running'),
        15_000,
      );
      await core.deleteNamespacedPod({ name: 'inf', namespace: ns, gracePeriodSeconds: 0 });
      await waitUntil(
        `informer delete (saw ${seen.join(', ')})`,
        () => seen.includes('delete inf'),
        15_000,
      );
      assert.equal(seen[0], 'add inf');
      assert.deepEqual(informer.list(), []);
    } finally {
      await informer.stop();
    }
  });

  it('exec over v5.channel.k8s.io: stdout, stderr, stdin close, env from secrets, exit codes', async () => {
    const ok = await runExec(
      kc,
      ns,
      'web',
      ['sh', '-c', 'cat; echo "token=$FROM_SECRET"; echo oops >&2'],
      'from stdin\n',
    );
    assert.equal(ok.protocol, 'v5.channel.k8s.io');
    assert.equal(ok.stdout, 'from stdin\ntoken=s3cret\n');
    assert.equal(ok.stderr, 'oops\n');
    assert.deepEqual(ok.status, { metadata: {}, status: 'Success' });
    const failed = await runExec(kc, ns, 'web', ['sh', '-c', 'exit 42']);
    assert.equal(failed.status.status, 'Failure');
    assert.equal(failed.status.reason, 'NonZeroExitCode');
    assert.deepEqual(failed.status.details?.causes, [{ reason: 'ExitCode', message: '42' }]);
    await waitUntil('exec sessions to end', () => fake.activeExecs() === 0, 15_000);
  });

  it('exec with tty: client-node resizes (lowercase width/height) reach the terminal', async () => {
    const stdout = Object.assign(new PassThrough(), { columns: 90, rows: 20 });
    const stdin = new PassThrough();
    let text = '';
    stdout.on('data', (d: Buffer) => (text += d.toString()));
    let statusResolve: (s: V1Status) => void = () => undefined;
    const status = new Promise<V1Status>((resolve) => (statusResolve = resolve));
    await new Exec(kc).exec(
      ns,
      'web',
      'app',
      ['sh', '-c', 'read a; stty size; read b; stty size; exit 4'],
      stdout,
      null,
      stdin,
      true,
      (s) => statusResolve(s),
    );
    await waitUntil('initial size', () => fake.execSessions()[0]?.size?.rows === 20, 15_000);
    stdin.write('a\r');
    await waitUntil(`initial size in ${JSON.stringify(text)}`, () => /20 90/.test(text), 15_000);
    stdout.columns = 100;
    stdout.rows = 33;
    stdout.emit('resize');
    await waitUntil(
      'resize to reach the server',
      () => fake.execSessions()[0]?.size?.rows === 33,
      15_000,
    );
    stdin.write('b\r');
    const st = await status;
    assert.deepEqual(st.details?.causes, [{ reason: 'ExitCode', message: '4' }]);
    assert.match(text, /33 100/);
  });

  it('exec over v4.channel.k8s.io when the server only offers v4', async () => {
    const v4 = await startFakeApiServer({
      execProtocols: ['v4.channel.k8s.io'],
      kubelet: { startDelayMs: 0 },
    });
    try {
      v4.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'default' },
        spec: { containers: [{ name: 'app', image: 'x' }] },
      });
      await waitForPodRunning(v4, 'default', 'p', 15_000);
      const r = await runExec(kubeConfig(v4), 'default', 'p', ['sh', '-c', 'echo v4 here; exit 3']);
      assert.equal(r.protocol, 'v4.channel.k8s.io');
      assert.equal(r.stdout, 'v4 here\n');
      assert.deepEqual(r.status.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
    } finally {
      await v4.stop();
    }
  });

  it('logs follow: lines written after the request arrive; the stream ends when the container stops', async () => {
    fake.appendPodLog(ns, 'web', 'app', 'before');
    const out = collectStream();
    const ended = new Promise((resolve) => out.stream.on('end', resolve));
    await new Log(kc).log(ns, 'web', 'app', out.stream, { follow: true, timestamps: false });
    await waitUntil('first line', () => out.text() === 'before\n', 15_000);
    fake.appendPodLog(ns, 'web', 'app', 'after');
    await waitUntil('followed line', () => out.text() === 'before\nafter\n', 15_000);
    fake.setPodPhase(ns, 'web', 'Succeeded');
    await ended;
    assert.equal(out.text(), 'before\nafter\n');
    await assert.rejects(
      new Log(kc).log(ns, 'web', 'other', new PassThrough(), {}),
      (err: unknown) => err instanceof ApiException && err.code === 400,
    );
  });

  it('pods driven by the test: Pending refuses exec and logs, Running works, activeDeadlineSeconds fails the pod', async () => {
    const manual = await startFakeApiServer({ kubelet: { startDelayMs: false } });
    try {
      const mkc = kubeConfig(manual);
      const mcore = mkc.makeApiClient(CoreV1Api);
      await mcore.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: { name: 'slow' },
          spec: { activeDeadlineSeconds: 2, containers: [{ name: 'app', image: 'x' }] },
        },
      });
      assert.equal(
        (await mcore.readNamespacedPod({ name: 'slow', namespace: 'default' })).status?.phase,
        'Pending',
      );
      await assert.rejects(
        mcore.readNamespacedPodLog({ name: 'slow', namespace: 'default' }),
        (err: unknown) => {
          assert.ok(err instanceof ApiException);
          assert.equal(err.code, 400);
          assert.match(
            String(err.body),
            /container \\"app\\" in pod \\"slow\\" is waiting to start: ContainerCreating/,
          );
          return true;
        },
      );
      await assert.rejects(runExec(mkc, 'default', 'slow', ['true']), handshakeRefused(400));
      manual.setPodPhase('default', 'slow', 'Running');
      const sleeping = runExec(mkc, 'default', 'slow', ['sleep', '30']);
      const failed = await waitForValue(
        'the active deadline',
        async () => {
          const pod = await mcore.readNamespacedPod({ name: 'slow', namespace: 'default' });
          return pod.status?.phase === 'Failed' ? pod : undefined;
        },
        15_000,
      );
      assert.equal(failed.status?.reason, 'DeadlineExceeded');
      assert.equal(failed.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 137);
      assert.equal((await sleeping).status.status, 'Failure', 'the deadline kills running execs');
      await assert.rejects(runExec(mkc, 'default', 'slow', ['true']), handshakeRefused(400));
    } finally {
      await manual.stop();
    }
  });

  it('a pod deleted with grace turns Terminating, then goes away (DELETED), killing its execs', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'short' }, spec: { containers: [{ name: 'app', image: 'x' }] } },
    });
    await waitForPodRunning(fake, ns, 'short', 15_000);
    const w = await collectWatch(kc, `/api/v1/namespaces/${ns}/pods`, {
      fieldSelector: 'metadata.name=short',
      resourceVersion: fake.currentResourceVersion(),
    });
    const sleeping = runExec(kc, ns, 'short', ['sleep', '30']);
    await waitUntil('exec running', () => fake.activeExecs() === 1, 15_000);
    const deleted = await core.deleteNamespacedPod({ name: 'short', namespace: ns });
    assert.ok(deleted.metadata?.deletionTimestamp, 'the returned pod is Terminating');
    const r = await sleeping;
    assert.equal(r.status.status, 'Failure', 'the exec ends when the pod goes away');
    await waitUntil('DELETED event', () => w.events.some((e) => e.type === 'DELETED'), 15_000);
    w.stop();
    assert.deepEqual(
      w.events.map((e) => e.type),
      ['MODIFIED', 'DELETED'],
    );
    assert.equal(fake.get('pods', ns, 'short'), undefined);
  });
});
