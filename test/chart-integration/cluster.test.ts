/**
 * Two bastions and two keys-services configured from the chart's own rendered ConfigMaps
 * (documented value set `ci/production-values.yaml`), on one fake API server holding the
 * chart's RBAC. Only what a pod gets from elsewhere is overridden: listen addresses (127.0.0.1,
 * port 0), mounted file paths (temp dirs standing in for the Secrets and ConfigMaps), the
 * kubeconfig (the service account's token on the fake) and the in-cluster Service URL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import ssh2 from 'ssh2';
import YAML from 'yaml';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import { FileRecordingStore, verifyRecording } from '@neetodeploy/recording';
import type { Bastion, BastionAddresses } from '@neetodeploy/bastion';
import { createKubernetesPlatform } from '@neetodeploy/platform';
import type { KubernetesPlatform, KubernetesPlatformConfigInput } from '@neetodeploy/platform';
import {
  CHART_DIR,
  DEFAULT_NAMESPACE,
  chartRbacYaml,
  configMapYaml,
  findObject,
  renderChart,
  serviceAccountNames,
} from '../support/chart.js';
import { serviceAccountUsername, startFakeApiServer } from '../support/fake-apiserver/index.js';
import type { FakeApiServer } from '../support/fake-apiserver/index.js';
import {
  addUserForTests,
  approveLoginSession,
  createKeysService,
  mintToken,
  parseKeysServiceConfig,
} from '../support/keys-service-internals.js';
import type { KeysService, KeysServiceAddress } from '../support/keys-service-internals.js';
import { makeKey, signCert, ssh, tempDir, writeSshConfig } from '../support/ssh-client.js';
import type { KeyPair } from '../support/ssh-client.js';
import { checkHostKey, parseKnownHosts } from '../../cli/src/known-hosts.js';
import {
  appNamespacesData,
  keysRequest,
  seedApp,
  withNamespacesFileIn,
  writeConfigMapVolume,
} from './support.js';
import { waitUntil } from '../support/wait.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

const VALUES_FILES = [path.join(CHART_DIR, 'ci', 'production-values.yaml')];
/** In the production value set, `blog` is open to the developers group (bob among them). */
const APP = 'blog';
const APP_NAMESPACE = 'app-blog';
const BOB = 'bob@example.com';

type Json = Record<string, unknown>;

interface KeysInstance {
  readonly service: KeysService;
  readonly address: KeysServiceAddress;
}

interface BastionInstance {
  readonly bastion: Bastion;
  readonly platform: KubernetesPlatform;
  readonly addresses: BastionAddresses;
}

function section(config: Json, key: string): Json {
  const value = config[key];
  assert.ok(value && typeof value === 'object', `rendered config has no ${key}`);
  return value as Json;
}

describe('chart-configured cluster: two bastions, two keys-services, one API server', function () {
  this.timeout(60_000);
  const sa = serviceAccountNames();
  const logger = pino({ level: 'silent' });
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fake: FakeApiServer;
  let keysConfig: Json;
  let bastionConfig: Json;
  let hostPatterns: string;
  /** The bastion container's readiness probe path, as the rendered Deployment names it. */
  let readinessPath: string;
  let bastionName: string;
  /** The chart as rendered, and the folder its app namespaces ConfigMap is "mounted" at. */
  let renderedObjects: Awaited<ReturnType<typeof renderChart>>;
  let namespacesDir: string;
  /** The bastion's host key pair, as in the host-key Secret. */
  let bastionKey: KeyPair;
  const keys: KeysInstance[] = [];
  const bastions: BastionInstance[] = [];
  /** The recording key Secret's two items, and a folder standing in for the bucket. */
  let recordingFiles: { key: string; pub: string; dir: string };
  /** The rendered `recording` section with its files here (no S3 server in this test). */
  const localRecording = (rendered: Json, file: Record<string, string>): Json =>
    rendered.recording
      ? {
          recording: {
            ...section(rendered, 'recording'),
            ...file,
            store: { kind: 'file', dir: recordingFiles.dir },
          },
        }
      : {};
  // Both keys-service replicas read one hand-moved clock, so a poll after approval is never
  // "too fast" whatever the machine's load (the login interval is 5 s by default).
  const base = Date.now();
  let offsetMs = 0;
  const clock = (): Date => new Date(base + offsetMs);

  async function startKeys(
    name: string,
    files: { userCa: string; hostCa: string; policy: string; hostPublicKey: string },
  ) {
    const kubeconfigPath = fake.kubeconfigPath(
      serviceAccountUsername(DEFAULT_NAMESPACE, sa.keysService),
      DEFAULT_NAMESPACE,
    );
    const rendered = keysConfig;
    const config = parseKeysServiceConfig({
      ...rendered,
      dataDir: path.join(tmp.dir, name),
      listen: { host: '127.0.0.1', port: 0 },
      metrics: { ...section(rendered, 'metrics'), host: '127.0.0.1', port: 0 },
      policyFile: files.policy,
      ca: { ...section(rendered, 'ca'), userKeyFile: files.userCa, hostKeyFile: files.hostCa },
      bastion: { ...section(rendered, 'bastion'), pinnedHostKeyFile: files.hostPublicKey },
      storage: { ...section(rendered, 'storage'), kubeconfigPath },
      platform: {
        ...withNamespacesFileIn(section(rendered, 'platform'), renderedObjects, namespacesDir),
        kubeconfigPath,
      },
      ...localRecording(rendered, { publicKeyFile: recordingFiles.pub }),
    });
    const service = createKeysService(config, { logger, clock });
    const address = await service.start();
    const instance: KeysInstance = { service, address };
    keys.push(instance);
    return instance;
  }

  async function startBastion(keysUrl: string, hostKey: KeyPair, hostCert: string) {
    const rendered = bastionConfig;
    const platformSection = withNamespacesFileIn(
      section(rendered, 'platform'),
      renderedObjects,
      namespacesDir,
    );
    const kubeconfigPath = fake.kubeconfigPath(
      serviceAccountUsername(DEFAULT_NAMESPACE, sa.bastion),
      DEFAULT_NAMESPACE,
    );
    const hostKeys = rendered.hostKeys as Json[];
    assert.equal(hostKeys.length, 1);
    const config = parseBastionConfig({
      ...rendered,
      listen: { host: '127.0.0.1', port: 0 },
      metrics: { host: '127.0.0.1', port: 0 },
      hostKeys: [{ ...hostKeys[0], privateKeyFile: hostKey.file, certificateFile: hostCert }],
      trust: {
        keysService: { ...section(section(rendered, 'trust'), 'keysService'), url: keysUrl },
      },
      platform: { ...platformSection, kubeconfigPath },
      ...localRecording(rendered, { keyFile: recordingFiles.key }),
    });
    // As bastion/src/main.ts does: the platform from the validated config's platform section.
    assert.equal(config.platform.type, 'kubernetes');
    const { type: _type, ...platformConfig } = config.platform as KubernetesPlatformConfigInput & {
      type: string;
    };
    const platform = await createKubernetesPlatform(platformConfig, { logger });
    const bastion = createBastion(config, { platform, logger });
    const instance: BastionInstance = { bastion, platform, addresses: await bastion.start() };
    bastions.push(instance);
    return instance;
  }

  before(async function () {
    tmp = await tempDir();
    const recordingKey = generateKeyPairSync('ed25519');
    recordingFiles = {
      key: path.join(tmp.dir, 'recording.key'),
      pub: path.join(tmp.dir, 'recording.pub'),
      dir: path.join(tmp.dir, 'recordings'),
    };
    fs.writeFileSync(
      recordingFiles.key,
      recordingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    fs.writeFileSync(
      recordingFiles.pub,
      recordingKey.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const objects = await renderChart(undefined, [], { valuesFiles: VALUES_FILES });
    renderedObjects = objects;
    namespacesDir = path.join(tmp.dir, 'app-namespaces');
    const rbacYaml = await chartRbacYaml(undefined, [], { valuesFiles: VALUES_FILES });
    keysConfig = configMapYaml(
      findObject(objects, 'ConfigMap', sa.keysService, DEFAULT_NAMESPACE),
      'keys-service.yaml',
    ) as Json;
    bastionConfig = configMapYaml(
      findObject(objects, 'ConfigMap', sa.bastion, DEFAULT_NAMESPACE),
      'bastion.yaml',
    ) as Json;
    const deployment = findObject(objects, 'Deployment', sa.bastion, DEFAULT_NAMESPACE) as {
      spec?: {
        template?: {
          spec?: {
            containers?: { readinessProbe?: { httpGet?: { path?: string; port?: string } } }[];
          };
        };
      };
    };
    const probe = deployment.spec?.template?.spec?.containers?.[0]?.readinessProbe?.httpGet;
    assert.equal(probe?.port, 'metrics');
    readinessPath = probe?.path ?? '';
    const policyFile = path.join(tmp.dir, 'policy.yaml');
    const policyMap = findObject(objects, 'ConfigMap', `${sa.keysService}-policy`);
    fs.writeFileSync(policyFile, (policyMap.data as Record<string, string>)['policy.yaml']!);
    hostPatterns = String(section(keysConfig, 'bastion').hostPatterns);
    bastionName = String(bastionConfig.name);

    fake = await startFakeApiServer({ rbacYaml });
    const webPod = seedApp(fake, APP, APP_NAMESPACE);
    fake.serviceAccountToken(DEFAULT_NAMESPACE, sa.bastion);
    fake.serviceAccountToken(DEFAULT_NAMESPACE, sa.keysService);

    // What the bootstrap Job leaves in the CA and host-key Secrets, made once and shared.
    const [userCa, hostCa, bastionHostKey] = await Promise.all([
      makeKey(tmp.dir, 'user_ca'),
      makeKey(tmp.dir, 'host_ca'),
      makeKey(tmp.dir, 'ssh_host_ed25519_key'),
    ]);
    bastionKey = bastionHostKey;
    const hostCert = await signCert(hostCa, bastionHostKey, {
      keyId: 'neetodeploy-bastion',
      principals: hostPatterns.split(','),
      host: true,
      validity: '-5m:+1h',
    });
    // The keys-service pins the host key from the Secret's `.pub` item, ssh-keygen's file here.
    const files = {
      userCa: userCa.file,
      hostCa: hostCa.file,
      policy: policyFile,
      hostPublicKey: `${bastionKey.file}.pub`,
    };
    const a = await startKeys('keys-a', files);
    const b = await startKeys('keys-b', files);
    await addUserForTests(a.service.context.store, { email: BOB, groups: [] });
    await startBastion(a.address.url, bastionKey, hostCert);
    await startBastion(b.address.url, bastionKey, hostCert);
    await waitForPodRunning(fake, APP_NAMESPACE, webPod);
  });

  after(async function () {
    for (const b of bastions) {
      await b.bastion.stop();
      await b.platform.close();
    }
    for (const k of keys) {
      await k.service.stop();
    }
    await fake?.stop();
    await tmp?.cleanup();
  });

  let seq = 0;
  /** A fresh user key with a certificate issued by `ks` for `token`; returns an ssh_config. */
  async function sshConfigFor(
    ks: KeysInstance,
    token: string,
    bastion: BastionInstance,
    app = APP,
  ) {
    const key = await makeKey(tmp.dir, `user-${++seq}`);
    const res = await keysRequest(ks.address.url, '/api/v1/certificates', {
      token,
      body: { app, public_key: key.publicKey },
    });
    assert.equal(res.status, 201, res.text);
    const body = res.json as { certificate: string; bastion: { known_hosts: string } };
    const cert = `${key.file}-cert.pub`;
    fs.writeFileSync(cert, `${body.certificate.trim()}\n`);
    // The known_hosts the keys-service hands out, verbatim: the bastion must satisfy it.
    const knownHosts = path.join(tmp.dir, `known_hosts-${seq}`);
    fs.writeFileSync(knownHosts, `${body.bastion.known_hosts}\n`);
    return writeSshConfig(path.join(tmp.dir, `ssh_config-${seq}`), {
      port: bastion.addresses.ssh.port,
      identity: key.file,
      certificate: cert,
      knownHosts,
      bastionName,
      user: app,
    });
  }

  const ready = async (b: BastionInstance): Promise<number> => {
    const m = b.addresses.metrics;
    assert.ok(m, 'the chart enables the bastion metrics listener');
    return (await keysRequest(`http://127.0.0.1:${m.port}`, readinessPath)).status;
  };

  async function mintedToken(ks: KeysInstance): Promise<string> {
    const minted = await mintToken(ks.service.context, {
      email: BOB,
      clientDescription: 'chart-integration',
    });
    return minted.token;
  }

  it('serves sessions through either bastion with a certificate from either keys-service', async function () {
    for (const [ki, bi] of [
      [0, 0],
      [1, 1],
      [0, 1],
      [1, 0],
    ] as const) {
      const ks = keys[ki]!;
      const config = await sshConfigFor(ks, await mintedToken(ks), bastions[bi]!);
      const r = await ssh(config, ['bastion', `echo via-${bi}-cert-${ki}`], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, `keys ${ki} → bastion ${bi}: ${r.stderr}`);
      assert.match(r.stdout.toString(), new RegExp(`via-${bi}-cert-${ki}`));
    }
    // Each session ran in a console pod the bastion made with its own service account.
    const bastionUser = serviceAccountUsername(DEFAULT_NAMESPACE, sa.bastion);
    const created = fake.requests.filter(
      (r) =>
        r.user === bastionUser &&
        r.method === 'POST' &&
        r.path === `/api/v1/namespaces/${APP_NAMESPACE}/pods` &&
        r.status === 201,
    );
    assert.ok(created.length >= 4, `console pods created: ${created.length}`);
  });

  it('records those sessions as the rendered config says (required mode), verifiable with the public item', async function () {
    const ids = fs.readdirSync(path.join(recordingFiles.dir, 'sessions'));
    assert.ok(ids.length > 0, 'no recording');
    const store = new FileRecordingStore(recordingFiles.dir);
    const pub = fs.readFileSync(recordingFiles.pub, 'utf8');
    for (const id of ids) {
      // The manifest is written once the session has ended, just after the client saw its end.
      const deadline = Date.now() + 15_000;
      let result = await verifyRecording(store, id, pub);
      while (!result.ok && result.reason === 'manifest-missing' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        result = await verifyRecording(store, id, pub);
      }
      assert.ok(result.ok, `${id}: ${JSON.stringify(result)}`);
    }
  });

  it("pins the bastion's host key from the Secret's public item, so neetodeploy exec trusts it", async function () {
    const target = section(keysConfig, 'bastion');
    const [host, port] = [String(target.host), Number(target.port)];
    const hostPart = port === 22 ? host : `[${host}]:${port}`;
    for (const ks of keys) {
      const key = await makeKey(tmp.dir, `user-${++seq}`);
      const res = await keysRequest(ks.address.url, '/api/v1/certificates', {
        token: await mintedToken(ks),
        body: { app: APP, public_key: key.publicKey },
      });
      assert.equal(res.status, 201, res.text);
      const text = (res.json as { bastion: { known_hosts: string } }).bastion.known_hosts;
      const lines = text.split('\n');
      assert.equal(lines.length, 2, text);
      assert.ok(lines[0]!.startsWith(`@cert-authority ${hostPatterns} `), lines[0]);
      assert.equal(lines[1], `${hostPart} ${bastionKey.publicKey}`);

      // exec's check (ssh2 is offered the plain key) of the key a running bastion presents.
      const entries = parseKnownHosts(text);
      const verdicts = await Promise.all(
        bastions.map((b) => {
          const client = new ssh2.Client();
          return new Promise<ReturnType<typeof checkHostKey>>((resolve, reject) => {
            client.once('error', reject);
            client.connect({
              host: '127.0.0.1',
              port: b.addresses.ssh.port,
              username: APP,
              readyTimeout: 10_000,
              hostVerifier: (offered: Buffer) => {
                const verdict = checkHostKey(offered, entries, { host, port, now: new Date() });
                resolve(verdict);
                return false;
              },
            });
          }).finally(() => client.end());
        }),
      );
      assert.deepEqual(verdicts, [{ ok: true }, { ok: true }]);
    }
  });

  it('finishes on keys-service B a login started on keys-service A', async function () {
    const [a, b] = [keys[0]!, keys[1]!];
    const started = await keysRequest(a.address.url, '/api/v1/login-sessions', {
      body: { hostname: 'laptop.local', client_version: '0.1.0' },
    });
    assert.equal(started.status, 201, started.text);
    const s = started.json as { device_code: string; user_code: string; interval: number };
    const poll = (ks: KeysInstance) =>
      keysRequest(ks.address.url, '/api/v1/login-sessions/token', {
        body: { device_code: s.device_code },
      });
    const pending = await poll(a);
    assert.equal(pending.status, 400);
    assert.equal((pending.json as { error: { code: string } }).error.code, 'authorization_pending');

    await approveLoginSession(b.service.context, {
      userCode: s.user_code,
      email: BOB,
      decision: 'approve',
    });
    offsetMs += (s.interval + 1) * 1000;
    const ok = await poll(b);
    assert.equal(ok.status, 200, ok.text);
    const token = (ok.json as { access_token: string }).access_token;
    offsetMs += (s.interval + 1) * 1000;
    const again = await poll(a);
    assert.equal((again.json as { error: { code: string } }).error.code, 'invalid_grant');

    // Shared through the chart's store: labelled Secrets in a namespace of its own, none in the
    // release namespace (where the CA, the host key and Helm's Secrets live).
    const storeNamespace = String(section(keysConfig, 'storage').namespace);
    assert.notEqual(storeNamespace, DEFAULT_NAMESPACE);
    assert.ok(fake.list('secrets', storeNamespace).length > 0, 'the store lives in Secrets');
    assert.equal(fake.list('secrets', DEFAULT_NAMESPACE).length, 0);
    // The token works on both replicas, and its certificate through a bastion.
    for (const ks of keys) {
      const me = await keysRequest(ks.address.url, '/api/v1/me', { token });
      assert.equal(me.status, 200, me.text);
      assert.equal((me.json as { email: string }).email, BOB);
    }
    const config = await sshConfigFor(a, token, bastions[1]!);
    const r = await ssh(config, ['bastion', 'echo after-login'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /after-login/);
  });

  it('onboards an app namespace with no restart: an open session stays, the new app works', async function () {
    // `shop-*` is open to the developers group: a new app in its own namespace, app-shop-news.
    const [newApp, newNamespace] = ['shop-news', 'app-shop-news'];
    const bastion = bastions[0]!;
    const token = await mintedToken(keys[0]!);
    const config = await sshConfigFor(keys[0]!, token, bastion);
    const session = spawn('ssh', ['-F', config, 'bastion', 'echo started; cat; echo closed'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    session.stdout.on('data', (c: Buffer) => (out += c.toString()));
    session.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const sessionExit = new Promise<number | null>((r) => session.once('exit', (code) => r(code)));
    const appNames = async (ks: KeysInstance): Promise<string[]> => {
      const res = await keysRequest(ks.address.url, '/api/v1/apps', { token });
      assert.equal(res.status, 200, res.text);
      const body = res.json as { apps: { name: string }[] };
      return body.apps.map((a) => a.name);
    };
    try {
      await waitUntil('the session to start', () => out.includes('started'), 20_000, 20);

      // `helm upgrade` with one more app namespace: what it changes, applied as the cluster
      // would (RBAC objects to the API server, the ConfigMap's file by the kubelet).
      const production = YAML.parse(fs.readFileSync(VALUES_FILES[0]!, 'utf8')) as {
        appNamespaces: unknown[];
      };
      const values = {
        appNamespaces: [
          ...production.appNamespaces,
          { name: newNamespace, allowedImagePrefixes: ['registry.example/'] },
        ],
      };
      const upgraded = await renderChart(values, [], { valuesFiles: VALUES_FILES });
      for (const name of [sa.bastion, sa.keysService]) {
        // Same pod templates: the upgrade rolls no pod, so nothing restarts.
        assert.deepEqual(
          (findObject(upgraded, 'Deployment', name, DEFAULT_NAMESPACE).spec as Json).template,
          (findObject(renderedObjects, 'Deployment', name, DEFAULT_NAMESPACE).spec as Json)
            .template,
        );
      }
      fake.loadRbacYaml(await chartRbacYaml(values, [], { valuesFiles: VALUES_FILES }));
      seedApp(fake, newApp, newNamespace);
      assert.ok(!(await appNames(keys[0]!)).includes(newApp), 'not listed before the file changes');
      writeConfigMapVolume(namespacesDir, appNamespacesData(upgraded)!);

      await waitUntil(
        'every server to list the new namespace',
        async () =>
          bastions.every((b) => b.platform.appNamespaces()?.includes(newNamespace)) &&
          (await Promise.all(keys.map(appNames))).every((names) => names.includes(newApp)),
        15_000,
        20,
      );
      // An exec into the new namespace, through the same bastion, with a certificate for it.
      const newConfig = await sshConfigFor(keys[1]!, token, bastion, newApp);
      const r = await ssh(newConfig, ['bastion', 'echo in-the-new-namespace'], {
        timeoutMs: 20_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString(), /in-the-new-namespace/);

      // The session opened before the change never noticed it.
      session.stdin.write('still-here\n');
      await waitUntil('the echo after onboarding', () => out.includes('still-here'), 10_000, 20);
      session.stdin.end();
      assert.equal(await sessionExit, 0, err);
      assert.match(out, /started\nstill-here\nclosed/);
    } finally {
      session.kill('SIGKILL');
    }
  });

  it('drains one bastion while a session runs; the other keeps serving', async function () {
    const [first, second] = [bastions[0]!, bastions[1]!];
    const config = await sshConfigFor(keys[0]!, await mintedToken(keys[0]!), first);
    const session = spawn('ssh', ['-F', config, 'bastion', 'echo started; cat; echo closed'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    session.stdout.on('data', (c: Buffer) => (out += c.toString()));
    session.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const sessionExit = new Promise<number | null>((r) => session.once('exit', (code) => r(code)));
    try {
      await waitUntil('the session to start', () => out.includes('started'), 20_000, 20);
      assert.deepEqual([await ready(first), await ready(second)], [200, 200]);
      const t0 = Date.now();
      const drained = first.bastion.drain();
      await waitUntil('the drain notice on stderr', () => err.includes('restarting'), 10_000, 20);
      assert.match(err, /the bastion is restarting; this session will be closed within 30s/);

      // Readiness fails on the draining one only: the Service stops sending it connections.
      assert.deepEqual([await ready(first), await ready(second)], [503, 200]);
      // New sessions: refused by the draining bastion, served by the other one.
      const refused = await ssh(config, ['bastion', 'true'], { timeoutMs: 10_000 });
      assert.equal(refused.code, 255);
      const otherConfig = await sshConfigFor(keys[1]!, await mintedToken(keys[1]!), second);
      const served = await ssh(otherConfig, ['bastion', 'echo still-serving'], {
        timeoutMs: 20_000,
      });
      assert.equal(served.code, 0, served.stderr);
      assert.match(served.stdout.toString(), /still-serving/);

      // The running session keeps working while the bastion drains.
      assert.equal(first.bastion.activeSessions(), 1);
      session.stdin.write('still-here\n');
      await waitUntil('the echo during the drain', () => out.includes('still-here'), 10_000, 20);
      // It ends on its own with its exit status intact (the drain lets the connection flush
      // before closing it), and the drain completes then, not at its 30 s timeout.
      session.stdin.end();
      assert.equal(await sessionExit, 0, err);
      await drained;
      assert.ok(Date.now() - t0 < 25_000, 'the drain waited for the session, not its timeout');
    } finally {
      session.kill('SIGKILL');
    }
  });
});
