/**
 * values.schema.json and the template checks reject bad values; the server config files the
 * chart renders are accepted by the servers' own zod schemas and point at what is mounted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import * as z from 'zod';
import { bastionConfigSchema } from '@neetodeploy/bastion';
import { kubernetesPlatformConfigSchema } from '@neetodeploy/platform';
import { Policy, keysServiceConfigSchema } from '@neetodeploy/keys-service';
import {
  CHART_DIR,
  helmBinary,
  renderChart,
  templateChart,
  type HelmResult,
  type K8sObject,
} from '../support/chart.js';
import {
  NAMESPACE,
  VALUE_SETS,
  byKind,
  component,
  droppedKeys,
  renderSet,
  serverConfig,
  type Json,
} from './helpers.js';

/**
 * The bastion's schema accepts the Kubernetes platform as it is. The keys-service's does not
 * have it yet, nor a Kubernetes store: these extensions are exactly the fields the chart
 * renders for it (the same `platform` block as the bastion's, and `storage.type/namespace`).
 */
const keysServiceClusterSchema = keysServiceConfigSchema.extend({
  platform: kubernetesPlatformConfigSchema.extend({ type: z.literal('kubernetes') }).strict(),
  storage: z.object({ type: z.literal('kubernetes'), namespace: z.string().min(1) }).strict(),
});

interface BadCase {
  readonly what: string;
  readonly values?: object;
  readonly set?: string[];
  readonly namespace?: string;
  readonly error: RegExp;
}

const BAD: readonly BadCase[] = [
  { what: 'zero bastion replicas', set: ['bastion.replicas=0'], error: /bastion\/replicas/ },
  {
    what: 'an unknown key (typo)',
    set: ['bastion.replica=2'],
    error: /additional properties 'replica'/,
  },
  {
    what: 'an unknown externalTrafficPolicy',
    set: ['bastion.service.externalTrafficPolicy=Sometimes'],
    error: /externalTrafficPolicy/,
  },
  { what: 'no app namespace', values: { appNamespaces: [] }, error: /appNamespaces/ },
  {
    what: 'recording on without a bucket or a key Secret',
    set: ['recording.enabled=true'],
    error: /recording/,
  },
  {
    what: 'an invalid namespace name',
    values: { appNamespaces: [{ name: 'Bad_Name' }] },
    error: /appNamespaces\/0\/name/,
  },
  {
    what: 'port forwarding switched on with a string',
    set: ['bastion.portForwarding.enabled=yes'],
    error: /portForwarding\/enabled/,
  },
  {
    what: 'a privileged container port',
    set: ['bastion.containerPort=22'],
    error: /containerPort/,
  },
  {
    what: 'a string where a number goes',
    set: ['bastion.drain.timeoutSeconds=soon'],
    error: /timeoutSeconds/,
  },
  {
    what: 'a certificate TTL above the maximum',
    set: ['keysService.certificates.ttlSeconds=7200'],
    error: /ttlSeconds must not exceed/,
  },
  {
    what: 'in-cluster TLS without its Secret',
    set: ['keysService.tls.enabled=true'],
    error: /secretName/,
  },
  { what: 'an Ingress without a host', set: ['keysService.ingress.enabled=true'], error: /host/ },
  {
    what: 'Ingress TLS without a certificate Secret',
    set: ['keysService.ingress.enabled=true', 'keysService.ingress.host=keys.example.com'],
    error: /ingress.tls.secretName is required/,
  },
  {
    what: 'a wildcard verb in the bastion extra rules',
    values: {
      bastion: { extraRules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['*'] }] },
    },
    error: /extraRules/,
  },
  {
    what: 'an unknown policy permission',
    values: {
      keysService: {
        policy: { rules: [{ users: ['a@b.c'], apps: ['x'], permissions: ['root'] }] },
      },
    },
    error: /permissions/,
  },
  {
    what: 'an API server address without a prefix',
    values: { networkPolicy: { apiServerCidrs: ['10.0.0.1'] } },
    error: /apiServerCidrs/,
  },
  { what: 'a bad key type', set: ['keysService.ca.keyType=dsa'], error: /keyType/ },
  {
    what: 'maxStartups full below begin',
    set: ['bastion.limits.maxStartupsFull=5'],
    error: /maxStartupsFull/,
  },
  {
    what: 'shared mode with two namespaces',
    values: { appNamespaces: [{ name: 'a' }, { name: 'b' }] },
    error: /exactly one namespace/,
  },
  {
    what: 'a per-app namespace without the prefix',
    values: {
      platform: { namespaceMode: 'per-app', namespacePrefix: 'app-' },
      appNamespaces: [{ name: 'app-shop' }, { name: 'blog' }],
    },
    error: /blog is not <platform.namespacePrefix><app>/,
  },
  {
    what: 'a console deadline the admission policy would refuse',
    set: ['platform.console.activeDeadlineSeconds=90000'],
    error: /must not exceed admissionPolicy.maxConsoleSeconds/,
  },
  {
    what: 'a config Secret name without {app}',
    set: ['platform.configSecretName=config'],
    error: /configSecretName/,
  },
  {
    what: 'the admission policy turned off while the bastion may create pods',
    set: ['admissionPolicy.enabled=false'],
    error: /admissionPolicy.enabled=false: the bastion may create pods/,
  },
  {
    what: 'the store in the release namespace',
    set: [`keysService.store.namespace=${NAMESPACE}`],
    error: /store.namespace must not be the release namespace/,
  },
  {
    what: 'the store in an app namespace',
    set: ['keysService.store.namespace=apps'],
    error: /store.namespace apps is an app namespace/,
  },
  {
    what: 'PROXY protocol on without the balancer addresses',
    set: ['bastion.proxyProtocol.enabled=true'],
    error: /bastion.proxyProtocol.trustedSources/,
  },
  {
    what: 'a PROXY protocol trusted source that is not an address or network',
    values: { bastion: { proxyProtocol: { enabled: true, trustedSources: ['lb.example.com'] } } },
    error: /proxyProtocol\/trustedSources\/0/,
  },
  {
    what: 'the release namespace as an app namespace',
    values: { appNamespaces: [{ name: NAMESPACE }] },
    error: /release namespace/,
  },
];

function volumeMountDirs(objects: readonly K8sObject[], comp: string): Map<string, Json> {
  const d = objects.find((o) => o.kind === 'Deployment' && component(o) === comp) as Json;
  const pod = d.spec.template.spec;
  const volumes = new Map((pod.volumes as Json[]).map((v) => [v.name as string, v]));
  return new Map(
    (pod.containers[0].volumeMounts as Json[]).map((m) => [
      m.mountPath as string,
      volumes.get(m.name),
    ]),
  );
}

/** The volume a file path lives on (longest mount path that contains it). */
function volumeOf(mounts: Map<string, Json>, file: string): Json {
  const dir = [...mounts.keys()]
    .filter((m) => file === m || file.startsWith(`${m}/`))
    .sort((a, b) => b.length - a.length)[0];
  assert.ok(dir, `${file} is on a mounted volume`);
  return mounts.get(dir);
}

describe('helm chart values and rendered server configs', function () {
  this.timeout(60_000);

  before(async () => {
    await helmBinary();
  });

  it('documents values.yaml line by line: a comment above every key', () => {
    const lines = fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
    const undocumented = lines.flatMap((line, i) => {
      const text = line.trim();
      // Keys only; list items and the cpu/memory pairs of a documented resources block excepted.
      if (!/^[\w./-]+:/.test(text) || /^(cpu|memory):/.test(text)) return [];
      return lines[i - 1]?.trim().startsWith('#') ? [] : [`${i + 1}: ${text}`];
    });
    assert.deepEqual(undocumented, []);
  });

  describe('bad values fail helm template with a message naming the problem', () => {
    // helm runs are independent processes: start them together, assert one by one.
    let runs: Promise<HelmResult>[];
    before(() => {
      runs = BAD.map((bad) =>
        templateChart(bad.values, bad.set ?? [], { namespace: bad.namespace }),
      );
    });

    BAD.forEach((bad, i) => {
      it(`rejects ${bad.what}`, async () => {
        const run = await runs[i]!;
        assert.notEqual(run.code, 0, `rendered anyway:\n${run.stdout.slice(0, 400)}`);
        assert.match(run.stderr, bad.error);
      });
    });
  });

  describe('client addresses', () => {
    it('keeps them by default: externalTrafficPolicy Local, PROXY protocol off', async () => {
      const objects = await renderSet(VALUE_SETS[0]!);
      const svc = byKind(objects, 'Service').find(
        (s) => component(s) === 'bastion' && (s as Json).spec.type === 'LoadBalancer',
      ) as Json;
      assert.equal(svc.spec.externalTrafficPolicy, 'Local');
      const parsed = bastionConfigSchema.parse(serverConfig(objects, 'bastion'));
      assert.equal(parsed.listen.proxyProtocol.enabled, false);
    });

    it('renders PROXY protocol into a bastion config the bastion accepts', async () => {
      const objects = await renderChart(
        {
          bastion: {
            service: { externalTrafficPolicy: 'Cluster' },
            proxyProtocol: {
              enabled: true,
              trustedSources: ['10.0.0.0/16', 'fd00::/8'],
              headerTimeoutMs: 3000,
            },
          },
        },
        [],
      );
      const raw = serverConfig(objects, 'bastion');
      const parsed = bastionConfigSchema.parse(raw);
      assert.deepEqual(droppedKeys(raw, parsed), []);
      assert.deepEqual(parsed.listen.proxyProtocol, {
        enabled: true,
        trustedSources: ['10.0.0.0/16', 'fd00::/8'],
        headerTimeoutMs: 3000,
      });
    });
  });

  describe('app namespaces', () => {
    const production = { valuesFiles: [path.join(CHART_DIR, 'ci', 'production-values.yaml')] };
    const news = { name: 'app-news', allowedImagePrefixes: ['registry.example.com/apps/news@'] };

    it('onboards a namespace without restarting a server: no pod template changes', async () => {
      const before = await renderChart(undefined, [], production);
      const productionValues: Json = YAML.parse(
        fs.readFileSync(production.valuesFiles[0]!, 'utf8'),
      );
      const after = await renderChart(
        { appNamespaces: [...(productionValues.appNamespaces as Json[]), news] },
        [],
        production,
      );
      for (const comp of ['bastion', 'keys-service']) {
        const template = (objects: K8sObject[]): unknown =>
          (objects.find((o) => o.kind === 'Deployment' && component(o) === comp) as Json).spec
            .template;
        assert.deepEqual(template(after), template(before), `${comp} pod template`);
      }
      const list = (objects: K8sObject[]): unknown =>
        JSON.parse(
          (
            objects.find(
              (o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-app-namespaces'),
            ) as Json
          ).data['namespaces.json'],
        );
      assert.deepEqual(list(before), ['app-blog', 'app-shop']);
      assert.deepEqual(list(after), ['app-blog', 'app-news', 'app-shop']);
      // What the new namespace needs from the API server comes with the same upgrade.
      assert.ok(
        byKind(after, 'Role').some(
          (r) => component(r) === 'bastion' && r.metadata.namespace === 'app-news',
        ),
      );
    });
  });

  for (const set of VALUE_SETS) {
    describe(`values: ${set.name}`, () => {
      let objects: K8sObject[];
      before(async () => {
        objects = await renderSet(set);
      });

      it('renders a bastion config the bastion schema accepts, with files on mounted volumes', () => {
        const raw = serverConfig(objects, 'bastion');
        const parsed = bastionConfigSchema.parse(raw);
        assert.deepEqual(droppedKeys(raw, parsed), [], 'no config key is silently ignored');
        const mounts = volumeMountDirs(objects, 'bastion');
        for (const key of parsed.hostKeys) {
          assert.ok(volumeOf(mounts, key.privateKeyFile).secret, 'host key from a Secret');
          if (key.certificateFile) assert.ok(volumeOf(mounts, key.certificateFile).secret);
        }
        const url = new URL(parsed.trust.keysService!.url);
        const keysSvc = byKind(objects, 'Service').find(
          (s) => component(s) === 'keys-service',
        ) as Json;
        assert.equal(url.hostname, `${keysSvc.metadata.name}.${NAMESPACE}.svc`);
        assert.equal(
          Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
          keysSvc.spec.ports[0].port,
        );
        if (parsed.trust.keysService!.caFile) {
          assert.equal(url.protocol, 'https:');
          assert.ok(volumeOf(mounts, parsed.trust.keysService!.caFile).secret.items);
        }
        const deploy = objects.find(
          (o) => o.kind === 'Deployment' && component(o) === 'bastion',
        ) as Json;
        const ports = Object.fromEntries(
          (deploy.spec.template.spec.containers[0].ports as Json[]).map((p) => [
            p.name,
            p.containerPort,
          ]),
        );
        assert.equal(parsed.listen.port, ports.ssh);
        assert.equal(parsed.listen.host, '0.0.0.0');
        assert.equal(parsed.metrics?.port, ports.metrics);
        assert.equal(parsed.platform.type, 'kubernetes');
        // The bastion refuses forwards itself exactly when its Role lacks pods/portforward.
        const canForward = byKind(objects, 'Role')
          .filter((r) => component(r) === 'bastion')
          .every((r) =>
            ((r as Json).rules as Json[]).some((rule) =>
              (rule.resources as string[]).includes('pods/portforward'),
            ),
          );
        assert.equal(parsed.portForwarding.enabled, canForward);
        if (parsed.recording) {
          // The signing key from a Secret's one item; the bucket's credentials never in here.
          assert.deepEqual(volumeOf(mounts, parsed.recording.keyFile).secret.items, [
            { key: 'recording.key', path: 'recording.key' },
          ]);
          assert.equal(parsed.recording.store.kind, 's3');
          assert.ok(!('credentials' in parsed.recording.store));
          const keysRecording = serverConfig(objects, 'keys-service').recording;
          assert.deepEqual(keysRecording.store, raw.recording.store, 'one bucket for both');
        }
        const roleNamespaces = byKind(objects, 'Role')
          .filter((r) => component(r) === 'bastion')
          .map((r) => r.metadata.namespace!);
        if (parsed.platform.type === 'kubernetes') {
          const ns = parsed.platform.namespaces;
          if (ns.mode === 'shared') assert.deepEqual(roleNamespaces, [ns.namespace]);
          else
            for (const n of roleNamespaces) assert.ok(n.startsWith(ns.prefix) && n !== ns.prefix);
          // The admission policy admits what the platform creates.
          const vap = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy') as Json;
          const limit = vap && /activeDeadlineSeconds <= (\d+)/.exec(JSON.stringify(vap.spec));
          if (limit) assert.ok(parsed.platform.console.activeDeadlineSeconds <= Number(limit[1]));
        }
        if (
          parsed.platform.type === 'kubernetes' &&
          parsed.platform.namespaces.mode === 'per-app'
        ) {
          // Followed at runtime: a ConfigMap mounted as a folder (a subPath never updates).
          const file = parsed.platform.namespaces.appNamespacesFile;
          assert.ok(file, 'per-app mode lists its namespaces in a file');
          for (const comp of ['bastion', 'keys-service']) {
            const volume = volumeOf(volumeMountDirs(objects, comp), file);
            const cm = objects.find(
              (o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap?.name,
            ) as Json;
            assert.ok(cm, `${comp}: ${file} is on a ConfigMap volume`);
            assert.deepEqual(
              JSON.parse(cm.data[path.posix.basename(file)]),
              roleNamespaces.slice().sort(),
            );
            const d = objects.find((o) => o.kind === 'Deployment' && component(o) === comp) as Json;
            const mount: Json = (d.spec.template.spec.containers[0].volumeMounts as Json[]).find(
              (m) => file.startsWith(`${m.mountPath}/`),
            );
            assert.equal(mount.subPath, undefined, `${comp}: no subPath`);
          }
        }
        // Both servers see apps the same way; only the bastion reaps console pods.
        const { reaper, ...keysPlatform } = serverConfig(objects, 'keys-service').platform;
        assert.deepEqual(keysPlatform, raw.platform);
        assert.deepEqual(reaper, { intervalMs: 0 });
      });

      it('renders a keys-service config its schema accepts, with files on mounted volumes', () => {
        const raw = serverConfig(objects, 'keys-service');
        const parsed = keysServiceClusterSchema.parse(raw);
        assert.deepEqual(droppedKeys(raw, parsed), []);
        const mounts = volumeMountDirs(objects, 'keys-service');
        const ca = volumeOf(mounts, parsed.ca.userKeyFile!);
        assert.ok(ca.secret);
        assert.equal(volumeOf(mounts, parsed.ca.hostKeyFile!), ca);
        assert.ok(volumeOf(mounts, parsed.policyFile!).configMap);
        // The bastion's host key is pinned for `neetodeploy exec` from its Secret's `.pub` item.
        const pinned = parsed.bastion.pinnedHostKeyFile;
        assert.ok(pinned, 'bastion.pinnedHostKeyFile is set');
        assert.equal(parsed.bastion.pinnedHostKey, undefined);
        const [pinDir, pinVolume] = [...mounts].find(([, v]) => v === volumeOf(mounts, pinned))!;
        assert.deepEqual(pinVolume.secret.items, [
          { key: 'ssh_host_ed25519_key.pub', path: path.posix.relative(pinDir, pinned) },
        ]);
        const hostKeySecret = (
          objects.find((o) => o.kind === 'Deployment' && component(o) === 'bastion') as Json
        ).spec.template.spec.volumes.find((v: Json) => v.name === 'host-key').secret.secretName;
        assert.equal(pinVolume.secret.secretName, hostKeySecret);
        // The data dir must be writable under a read-only root filesystem.
        assert.ok(mounts.get(parsed.dataDir)?.emptyDir, 'dataDir is an emptyDir');
        // The login pages' cookie key (<dataDir>/web-secret) is one Secret for all replicas.
        const web = volumeOf(mounts, path.posix.join(parsed.dataDir, 'web-secret'));
        const webSecret = objects.find(
          (o) => o.kind === 'Secret' && o.metadata.name === web.secret?.secretName,
        ) as Json;
        assert.ok(webSecret, 'the cookie key Secret is rendered');
        assert.ok(Buffer.from(webSecret.data['web-secret'], 'base64').length >= 32);
        assert.equal(webSecret.metadata.annotations['helm.sh/resource-policy'], 'keep');
        if (parsed.tls.mode === 'files') {
          assert.ok(volumeOf(mounts, parsed.tls.certFile).secret);
          assert.ok(volumeOf(mounts, parsed.tls.keyFile).secret);
        } else {
          assert.equal(parsed.tls.mode, 'none');
        }
        // A namespace of its own: the store's Secret rights must not reach the release
        // namespace's CA, host key and Helm release Secrets.
        assert.equal(parsed.storage.namespace, `${NAMESPACE}-store`);
        // Only the bastion, which may delete console pods, runs the orphan reaper.
        assert.equal(parsed.platform.reaper.intervalMs, 0);
        assert.equal(path.posix.isAbsolute(parsed.dataDir), true);
      });

      it('renders a policy the keys-service parses', () => {
        const cm = objects.find(
          (o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-policy'),
        ) as Json;
        assert.ok(Policy.parse(cm.data['policy.yaml']));
      });
    });
  }
});
