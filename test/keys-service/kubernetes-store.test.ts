/**
 * The keys-service store on Kubernetes (labelled Secrets) over the fake API server: the shared
 * repository suite, two keys-service replicas sharing one login, and its RBAC footprint.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { stringify } from 'yaml';
import { createKubeClient, loadKubeConfig } from '@neetodeploy/platform';
import type { KubeClient } from '@neetodeploy/platform';
import { openKubernetesStore } from '@neetodeploy/keys-service';
import type { KeysStore, KubernetesKeysStore } from '@neetodeploy/keys-service';
import { runRepositoryConformance } from '../support/keys-repositories-conformance.js';
import { serviceAccountUsername, startFakeApiServer } from '../support/fake-apiserver/index.js';
import type { FakeApiServer } from '../support/fake-apiserver/index.js';
import { ALICE, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import { waitUntil } from '../support/wait.js';
import { approveLoginSession } from '../support/keys-service-internals.js';
import { createProgram } from '../../keys-service/src/cli.js';

const SA = 'keys-service';

/** The Role the chart grants the keys-service in its release namespace (secrets only). */
function storeRbac(namespace: string): string {
  return `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: keys-store, namespace: ${namespace} }
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: keys-store, namespace: ${namespace} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: keys-store }
subjects:
  - { kind: ServiceAccount, name: ${SA}, namespace: ${namespace} }
`;
}

describe('keys-service store on Kubernetes', function () {
  this.timeout(30_000);
  let fake: FakeApiServer;
  let seq = 0;

  before(async function () {
    fake = await startFakeApiServer();
  });

  after(async function () {
    await fake?.stop();
  });

  /** A fresh namespace with the store's Role; returns the service account's kubeconfig. */
  function namespaceWithRole(): { namespace: string; kubeconfigPath: string } {
    const namespace = `keys-${++seq}`;
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    fake.loadRbacYaml(storeRbac(namespace));
    fake.serviceAccountToken(namespace, SA);
    return {
      namespace,
      kubeconfigPath: fake.kubeconfigPath(serviceAccountUsername(namespace, SA), namespace),
    };
  }

  const clientFor = (kubeconfigPath: string): KubeClient =>
    createKubeClient(loadKubeConfig({ kubeconfigPath }), 5000);

  describe('as the limited service account', function () {
    let current: { namespace: string; kubeconfigPath: string } | undefined;
    const open = (): KeysStore =>
      openKubernetesStore({
        client: clientFor(current!.kubeconfigPath),
        namespace: current!.namespace,
      });
    runRepositoryConformance('kubernetes', {
      create() {
        current = namespaceWithRole();
        return Promise.resolve(open());
      },
      async reopen(previous) {
        await previous.close();
        return open();
      },
    });
  });

  describe('with the read cache, as the limited service account', function () {
    let current: { namespace: string; kubeconfigPath: string } | undefined;
    const open = async (): Promise<KeysStore> => {
      const store = openKubernetesStore({
        client: clientFor(current!.kubeconfigPath),
        namespace: current!.namespace,
        readCache: {},
      });
      await waitUntil('the read cache synced', () => store.readCacheState() === 'synced', 2000, 20);
      return store;
    };
    runRepositoryConformance('kubernetes (read cache)', {
      create() {
        current = namespaceWithRole();
        return open();
      },
      async reopen(previous) {
        await previous.close();
        return open();
      },
    });
  });

  describe('read cache', function () {
    const TOKEN = 'e'.repeat(64);
    const cached = (where: { namespace: string; kubeconfigPath: string }, extra = {}) =>
      openKubernetesStore({
        client: clientFor(where.kubeconfigPath),
        namespace: where.namespace,
        readCache: { ...extra },
      });
    const newToken = (hash: string) => ({
      hash,
      email: ALICE,
      clientDescription: 'cli',
      createdAt: new Date(),
      expiresAt: new Date(Date.now() + 3_600_000),
    });

    it('answers an authenticated call without reading the API server', async function () {
      const where = namespaceWithRole();
      const store = cached(where);
      try {
        await waitUntil(
          'the read cache synced',
          () => store.readCacheState() === 'synced',
          2000,
          20,
        );
        await store.users.upsert({ email: ALICE, groups: ['dev'], createdAt: new Date() });
        await store.tokens.create(newToken(TOKEN));
        await store.revocations.setNotBefore(ALICE, 1);
        const before = fake.requests.length;
        for (let i = 0; i < 20; i++) {
          const bearer = await store.tokens.findBearer(TOKEN);
          assert.deepEqual(bearer?.groups, ['dev']);
          assert.equal(bearer?.notBefore, 1);
          await store.tokens.touch(TOKEN, new Date());
          await store.revocations.version();
        }
        const reads = fake.requests
          .slice(before)
          .filter((r) => r.method === 'GET' && !r.query.includes('watch=true'))
          .filter((r) => r.path.includes(`/namespaces/${where.namespace}/secrets`));
        assert.deepEqual(
          reads.map((r) => `${r.method} ${r.path}?${r.query}`),
          [],
          'no API call for 20 authenticated calls',
        );
      } finally {
        await store.close();
      }
    });

    it("sees another replica's new token at once and its revocations within a second", async function () {
      const where = namespaceWithRole();
      const a = cached(where);
      const b = openKubernetesStore({ client: clientFor(where.kubeconfigPath), ...where });
      try {
        await waitUntil('the read cache synced', () => a.readCacheState() === 'synced', 2000, 20);
        await b.users.upsert({ email: ALICE, groups: [], createdAt: new Date() });
        await b.tokens.create(newToken(TOKEN));
        assert.ok(await a.tokens.findBearer(TOKEN), 'a token made elsewhere is found at once');
        const v = await a.revocations.version();
        await b.tokens.revoke(TOKEN, new Date());
        await b.revocations.setNotBefore(ALICE, 77);
        await b.revocations.revokeSerial(99n, new Date());
        await waitUntil(
          'the revocation of the token',
          async () => (await a.tokens.findBearer(TOKEN))?.token.revokedAt !== undefined,
          2000,
          20,
        );
        await waitUntil(
          'the not-before of 77',
          async () => (await a.revocations.getNotBefore(ALICE)) === 77,
          2000,
          20,
        );
        await waitUntil(
          'the revoked serial 99',
          async () => (await a.revocations.listRevokedSerials()).includes(99n),
          2000,
          20,
        );
        assert.notEqual(await a.revocations.version(), v);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('lists again when its watch cannot resume (410), missing no change', async function () {
      const where = namespaceWithRole();
      const a = cached(where, { watchSeconds: 1 });
      const b = openKubernetesStore({ client: clientFor(where.kubeconfigPath), ...where });
      try {
        await waitUntil('the read cache synced', () => a.readCacheState() === 'synced', 2000, 20);
        await b.revocations.setNotBefore(ALICE, 5);
        fake.compactWatchHistory();
        await waitUntil(
          'the not-before of 5',
          async () => (await a.revocations.getNotBefore(ALICE)) === 5,
          5000,
          20,
        );
        await new Promise((r) => setTimeout(r, 1500));
        await b.revocations.setNotBefore(ALICE, 6);
        await waitUntil(
          'the not-before of 6',
          async () => (await a.revocations.getNotBefore(ALICE)) === 6,
          5000,
          20,
        );
        assert.equal(a.readCacheState(), 'synced');
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('drops itself past its bound and keeps answering from the API', async function () {
      const where = namespaceWithRole();
      const a = cached(where, { maxEntries: 3 });
      const b = openKubernetesStore({ client: clientFor(where.kubeconfigPath), ...where });
      try {
        await waitUntil('the read cache synced', () => a.readCacheState() === 'synced', 2000, 20);
        for (const n of [1, 2, 3, 4, 5]) {
          await b.users.upsert({ email: `u${n}@example.com`, groups: [], createdAt: new Date() });
        }
        await waitUntil('the read cache dropped', () => a.readCacheState() === 'dropped', 2000, 20);
        assert.equal((await a.users.get('u5@example.com'))?.email, 'u5@example.com');
        await b.revocations.setNotBefore('u5@example.com', 9);
        assert.equal(await a.revocations.getNotBefore('u5@example.com'), 9);
        assert.notEqual(await a.revocations.version(), await a.revocations.version());
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('stays ready through an API server blip, and not past its grace', async function () {
      const where = namespaceWithRole();
      const real = clientFor(where.kubeconfigPath);
      let down = false;
      const unreachable = () => Promise.reject(new Error('connect ECONNREFUSED'));
      const flaky: KubeClient = {
        ...real,
        request: (...args) => (down ? unreachable() : real.request(...args)),
        stream: (...args) => (down ? unreachable() : real.stream(...args)),
        close: () => real.close(),
      };
      const store = openKubernetesStore({
        client: flaky,
        namespace: where.namespace,
        readCache: { watchSeconds: 1, readyGraceMs: 1500 },
      });
      try {
        await waitUntil(
          'the read cache synced',
          () => store.readCacheState() === 'synced',
          2000,
          20,
        );
        await store.ready();
        down = true;
        await waitUntil(
          'the read cache listing',
          () => store.readCacheState() === 'listing',
          5000,
          20,
        );
        await store.ready();
        await new Promise((r) => setTimeout(r, 1600));
        await assert.rejects(store.ready(), /ECONNREFUSED|unreachable/);
        down = false;
        await waitUntil(
          'the read cache synced',
          () => store.readCacheState() === 'synced',
          5000,
          20,
        );
        await store.ready();
      } finally {
        await store.close();
      }
    });
  });

  describe('objects and labels', function () {
    it('keeps no secret value in names or labels, and one Secret per record', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const store = openKubernetesStore({ client: clientFor(kubeconfigPath), namespace });
      try {
        await store.users.upsert({ email: ALICE, groups: ['dev'], createdAt: new Date() });
        await store.tokens.create({
          hash: 'f'.repeat(64),
          email: ALICE,
          clientDescription: 'ci',
          createdAt: new Date(),
          expiresAt: new Date(Date.now() + 60_000),
        });
        await store.loginSessions.create({
          deviceCodeHash: 'a'.repeat(64),
          userCode: 'BCDFGHJK',
          clientDescription: 'x',
          clientIp: '127.0.0.1',
          createdAt: new Date(),
          expiresAt: new Date(Date.now() + 60_000),
          intervalSeconds: 5,
          state: 'pending',
        });
        const secrets = fake.list('secrets', namespace);
        // user, token, login session, user-code index
        assert.equal(secrets.length, 4);
        for (const s of secrets) {
          const visible = JSON.stringify([s.metadata?.name, s.metadata?.labels]);
          assert.doesNotMatch(visible, /alice|BCDFGHJK/i);
          for (const v of Object.values(s.metadata?.labels ?? {})) assert.ok(v.length <= 63);
          assert.equal(s.type, 'neetodeploy.com/keys-store');
        }
      } finally {
        await store.close();
      }
    });

    it('expires stale user-code claims with their sessions', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const store = openKubernetesStore({ client: clientFor(kubeconfigPath), namespace });
      try {
        const t0 = Date.now();
        await store.loginSessions.create({
          deviceCodeHash: 'b'.repeat(64),
          userCode: 'CCCCCCCC',
          clientDescription: 'x',
          clientIp: '127.0.0.1',
          createdAt: new Date(t0),
          expiresAt: new Date(t0 + 1000),
          intervalSeconds: 5,
          state: 'pending',
        });
        assert.equal(fake.list('secrets', namespace).length, 2);
        assert.equal(await store.loginSessions.deleteExpired(new Date(t0 + 2000)), 1);
        assert.equal(fake.list('secrets', namespace).length, 0);
      } finally {
        await store.close();
      }
    });

    it('keeps a bounded ring of audit events', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const store = openKubernetesStore({
        client: clientFor(kubeconfigPath),
        namespace,
        auditRetain: 10,
      });
      try {
        for (let i = 0; i < 25; i++) {
          await store.audit.append({ type: 't', at: new Date(1000 + i), details: { i } });
        }
        const kept = await store.audit.list({ limit: 100 });
        assert.ok(kept.length >= 10 && kept.length < 25, `kept ${kept.length}`);
        assert.deepEqual(kept[0]?.details, { i: 24 }, 'the newest survive');
      } finally {
        await store.close();
      }
    });
  });

  describe('two stores (replicas) racing on one namespace', function () {
    it('decides and redeems a session at most once across stores', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const stores = [0, 1, 2].map(() =>
        openKubernetesStore({ client: clientFor(kubeconfigPath), namespace }),
      );
      try {
        const now = new Date();
        const hash = 'c'.repeat(64);
        await stores[0]!.loginSessions.create({
          deviceCodeHash: hash,
          userCode: 'DDDDDDDD',
          clientDescription: 'x',
          clientIp: '127.0.0.1',
          createdAt: now,
          expiresAt: new Date(now.getTime() + 60_000),
          intervalSeconds: 5,
          state: 'pending',
        });
        // The same user code cannot be claimed from another replica while it lives.
        await assert.rejects(
          stores[1]!.loginSessions.create({
            deviceCodeHash: 'd'.repeat(64),
            userCode: 'DDDDDDDD',
            clientDescription: 'x',
            clientIp: '127.0.0.1',
            createdAt: now,
            expiresAt: new Date(now.getTime() + 60_000),
            intervalSeconds: 5,
            state: 'pending',
          }),
          (err: Error) => err.name === 'Conflict',
        );
        const decisions = await Promise.all(
          stores.flatMap((st, i) => [
            st.loginSessions.decide(hash, i === 0 ? 'approved' : 'denied', ALICE, now),
            st.loginSessions.decide(hash, 'approved', ALICE, now),
          ]),
        );
        assert.equal(decisions.filter(Boolean).length, 1);
        const state = (await stores[2]!.loginSessions.findByDeviceCodeHash(hash))?.state;
        if (state === 'approved') {
          const redeemed = await Promise.all(
            stores.flatMap((st) => [st.loginSessions.redeem(hash), st.loginSessions.redeem(hash)]),
          );
          assert.equal(redeemed.filter(Boolean).length, 1);
        } else assert.equal(state, 'denied');
      } finally {
        await Promise.all(stores.map((st) => st.close()));
      }
    });

    it('never loses a not-before raise or a serial written concurrently', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const stores = [0, 1].map(() =>
        openKubernetesStore({ client: clientFor(kubeconfigPath), namespace }),
      );
      try {
        const v0 = await stores[0]!.revocations.version();
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            Promise.all([
              stores[i % 2]!.revocations.setNotBefore(ALICE, 100 + i),
              stores[(i + 1) % 2]!.revocations.revokeSerial(BigInt(i), new Date()),
            ]),
          ),
        );
        assert.equal(await stores[1]!.revocations.getNotBefore(ALICE), 109);
        assert.equal((await stores[0]!.revocations.listRevokedSerials()).length, 10);
        assert.equal((await stores[1]!.revocations.version()) - v0, 20);
      } finally {
        await Promise.all(stores.map((st) => st.close()));
      }
    });
  });

  describe('RBAC', function () {
    it('works with secrets rights in its namespace only, and names what it lacks', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const ok = openKubernetesStore({ client: clientFor(kubeconfigPath), namespace });
      await ok.verifyAccess();
      await ok.close();

      // The same account pointed at another namespace has no rights there.
      const other = `keys-${++seq}`;
      fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: other } });
      const elsewhere: KubernetesKeysStore = openKubernetesStore({
        client: clientFor(kubeconfigPath),
        namespace: other,
      });
      try {
        const expected = (err: Error) =>
          err.name === 'AccessDenied' &&
          /needs get, list, create, update and delete on secrets in namespace keys-\d+/.test(
            (err as Error & { userMessage?: string }).userMessage ?? err.message,
          );
        await assert.rejects(elsewhere.verifyAccess(), expected);
        await assert.rejects(elsewhere.users.get(ALICE), expected);
        await assert.rejects(
          elsewhere.audit.append({ type: 'x', at: new Date(), details: {} }),
          expected,
        );
      } finally {
        await elsewhere.close();
      }

      // A keys-service configured with such a store refuses to start, saying why.
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-k8s-'));
      try {
        await assert.rejects(
          startKeysService({
            dataDir,
            config: { storage: { type: 'kubernetes', namespace: other, kubeconfigPath } },
          }),
          (err: Error) => err.name === 'AccessDenied',
        );
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('a keys-service configured for Kubernetes (store and platform)', function () {
    it('builds its platform from config and lists the apps it finds there', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const appsNs = `apps-${++seq}`;
      fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: appsNs } });
      for (const app of ['shop-blue', 'other']) {
        const labels = { 'neetodeploy.com/app': app, 'neetodeploy.com/process': 'web' };
        fake.create({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: `${app}-web`, namespace: appsNs, labels },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: { containers: [{ name: 'web', image: 'registry.example/app:1' }] },
            },
          },
        });
      }
      const ks = await startKeysService({
        config: {
          storage: { type: 'kubernetes', namespace, kubeconfigPath },
          platform: {
            type: 'kubernetes',
            kubeconfigPath: fake.kubeconfigPath(),
            namespaces: { mode: 'shared', namespace: appsNs },
            reaper: { intervalMs: 0 },
          },
        },
      });
      try {
        const res = await ks.client.request('/api/v1/apps', { token: await ks.token(ALICE) });
        assert.equal(res.status, 200, res.text);
        // The policy lets alice see demo and shop-*: of the cluster's apps, only shop-blue.
        const names = (res.json.apps as { name: string }[]).map((x) => x.name);
        assert.deepEqual(names, ['shop-blue']);
      } finally {
        await ks.dispose();
      }
    });
  });

  describe('admin commands', function () {
    it('`users add --config` writes to the store the config names', async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-k8s-cmd-'));
      const configFile = path.join(dir, 'keys-service.yaml');
      fs.writeFileSync(
        configFile,
        stringify({
          dataDir: path.join(dir, 'data'),
          storage: { type: 'kubernetes', namespace, kubeconfigPath },
        }),
      );
      const out = { text: '' };
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          out.text += chunk.toString('utf8');
          done();
        },
      });
      const program = createProgram({
        io: {
          stdout: sink,
          stderr: sink,
          stdin: Readable.from([Buffer.from('a long password\n')]),
        },
        now: () => new Date(),
        env: {},
        cwd: dir,
      });
      const store = openKubernetesStore({ client: clientFor(kubeconfigPath), namespace });
      try {
        await program.parseAsync([
          'node',
          'neetodeploy-keys',
          'users',
          'add',
          'carol@example.com',
          '--group',
          'ops',
          '--password-stdin',
          '--config',
          configFile,
        ]);
        const carol = await store.users.get('carol@example.com');
        assert.deepEqual(carol?.groups, ['ops'], out.text);
        assert.match(carol?.passwordHash ?? '', /^scrypt\$/);
      } finally {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('two keys-service replicas on one API server', function () {
    let a: TestKeysService;
    let b: TestKeysService;
    const base = Date.now();
    let offsetMs = 0;

    before(async function () {
      const { namespace, kubeconfigPath } = namespaceWithRole();
      const config = {
        storage: { type: 'kubernetes' as const, namespace, kubeconfigPath },
        loginSessions: { ttlSeconds: 120, intervalSeconds: 1 },
      };
      // Both replicas read one hand-moved clock: poll gaps are exact, whatever the load.
      const deps = { clock: () => new Date(base + offsetMs) };
      a = await startKeysService({ config, deps });
      // The second replica shares the store: its users were added through the first.
      b = await startKeysService({ config, deps, users: false });
    });

    after(async function () {
      await a?.dispose();
      await b?.dispose();
    });

    const poll = (ks: TestKeysService, deviceCode: string) =>
      ks.client.request('/api/v1/login-sessions/token', { body: { device_code: deviceCode } });

    it('a login started on one is approved on the other and redeemed once', async function () {
      const started = await a.client.request('/api/v1/login-sessions', {
        body: { hostname: 'laptop.local', client_version: '0.1.0' },
      });
      assert.equal(started.status, 201, started.text);
      const s = started.json as { device_code: string; user_code: string };

      const pending = await poll(b, s.device_code);
      assert.equal(pending.status, 400);
      assert.equal(pending.json.error.code, 'authorization_pending');

      await approveLoginSession(b.service.context, {
        userCode: s.user_code,
        email: ALICE,
        decision: 'approve',
      });
      // Deciding again on the first replica is refused: the session is no longer pending.
      await assert.rejects(
        approveLoginSession(a.service.context, {
          userCode: s.user_code,
          email: ALICE,
          decision: 'deny',
        }),
        (err: Error) => err.name === 'NotFound',
      );
      const seen = await a.client.request('/api/v1/login-sessions/token', {
        body: { device_code: s.device_code },
      });
      // Too soon after the first poll: slow_down, not access_denied (the denial did not land).
      assert.equal(seen.json.error.code, 'slow_down', seen.text);

      // Polled on both replicas at once, well after the interval: one token in all.
      offsetMs = 60_000;
      const results = await Promise.all([
        poll(a, s.device_code),
        poll(b, s.device_code),
        poll(a, s.device_code),
        poll(b, s.device_code),
      ]);
      const won = results.filter((r) => r.status === 200);
      assert.equal(won.length, 1, results.map((r) => r.text).join('\n'));
      const token = won[0]!.json.access_token as string;

      // The token minted through one replica is honoured by the other.
      for (const ks of [a, b]) {
        const me = await ks.client.request('/api/v1/me', { token });
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json.email, ALICE);
      }
    });
  });
});
