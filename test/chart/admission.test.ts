/**
 * The chart's ValidatingAdmissionPolicies, enforced by the fake API server on the API path
 * (test/support/fake-apiserver/admission.ts: matchConstraints, binding namespaceSelector and
 * paramRef, matchConditions, lazy variables, validations, with `object`, `oldObject`,
 * `request` and `params` as Kubernetes gives them) against pods the bastion might create,
 * change or delete, sent as the bastion's ServiceAccount with `dryRun=All`: a proper console pod
 * is admitted, and each way of stepping outside it is refused by the validation meant for it.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- rendered manifests are untyped JSON (see helpers.ts Json) */
import assert from 'node:assert/strict';
import { buildConsolePod, kubernetesPlatformConfigSchema } from '@neetodeploy/platform';
import {
  chartAdmission,
  chartRbacYaml,
  helmBinary,
  serviceAccountNames,
  type K8sObject,
} from '../support/chart.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver/index.js';
import { apiRequest, type RawResult } from '../chart-integration/support.js';
import { NAMESPACE, VALUE_SETS, renderSet, serverConfig, type Json } from './helpers.js';

const SA = serviceAccountNames();

function consolePod(namespace: string, image: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'shop-console-a1b2c3',
      namespace,
      labels: {
        'neetodeploy.com/console-app': 'shop',
        'neetodeploy.com/console': 'true',
        'neetodeploy.com/session': 'a1b2c3',
      },
    },
    spec: {
      automountServiceAccountToken: false,
      activeDeadlineSeconds: 3600,
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'console',
          image,
          command: ['sleep', 'infinity'],
          envFrom: [{ secretRef: { name: 'shop-config' } }],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    },
  };
}

const MUTATIONS: readonly { what: string; change: (pod: Json) => void; refusal: RegExp }[] = [
  {
    what: 'no console label',
    change: (p) => delete p.metadata.labels['neetodeploy.com/console'],
    refusal: /neetodeploy.com\/console=true/,
  },
  {
    what: 'console label "false"',
    change: (p) => (p.metadata.labels['neetodeploy.com/console'] = 'false'),
    refusal: /neetodeploy.com\/console=true/,
  },
  {
    what: 'no labels at all',
    change: (p) => delete p.metadata.labels,
    refusal: /neetodeploy.com\/console=true/,
  },
  {
    what: 'no console-app label',
    change: (p) => delete p.metadata.labels['neetodeploy.com/console-app'],
    refusal: /neetodeploy.com\/console-app/,
  },
  {
    what: 'the app label (its ReplicaSet and Services would select it)',
    change: (p) => (p.metadata.labels['neetodeploy.com/app'] = 'shop'),
    refusal: /may not carry the neetodeploy.com\/app/,
  },
  {
    what: 'a process label',
    change: (p) => (p.metadata.labels['neetodeploy.com/process'] = 'web'),
    refusal: /neetodeploy.com\/process labels/,
  },
  {
    what: 'no session label',
    change: (p) => delete p.metadata.labels['neetodeploy.com/session'],
    refusal: /neetodeploy.com\/session/,
  },
  {
    what: 'a foreign image',
    change: (p) => (p.spec.containers[0].image = 'docker.io/evil/miner:latest'),
    refusal: /images allowed/,
  },
  {
    what: 'an init container with a foreign image',
    change: (p) =>
      (p.spec.initContainers = [{ ...p.spec.containers[0], name: 'init', image: 'busybox' }]),
    refusal: /images allowed/,
  },
  {
    what: 'an automounted token',
    change: (p) => (p.spec.automountServiceAccountToken = true),
    refusal: /automountServiceAccountToken/,
  },
  {
    what: 'automount left to the default',
    change: (p) => delete p.spec.automountServiceAccountToken,
    refusal: /automountServiceAccountToken/,
  },
  {
    what: 'a hostPath volume',
    change: (p) => p.spec.volumes.push({ name: 'root', hostPath: { path: '/' } }),
    refusal: /host paths/,
  },
  {
    what: 'a projected service account token',
    change: (p) =>
      p.spec.volumes.push({
        name: 'tok',
        projected: { sources: [{ serviceAccountToken: { path: 't' } }] },
      }),
    refusal: /may only mount emptyDir/,
  },
  { what: 'hostNetwork', change: (p) => (p.spec.hostNetwork = true), refusal: /host's network/ },
  { what: 'hostPID', change: (p) => (p.spec.hostPID = true), refusal: /host's network, PID/ },
  {
    what: 'a privileged container',
    change: (p) => (p.spec.containers[0].securityContext.privileged = true),
    refusal: /unprivileged/,
  },
  {
    what: 'privilege escalation left allowed',
    change: (p) => delete p.spec.containers[0].securityContext.allowPrivilegeEscalation,
    refusal: /allowPrivilegeEscalation=false/,
  },
  {
    what: 'an added capability',
    change: (p) => (p.spec.containers[0].securityContext.capabilities = { add: ['NET_ADMIN'] }),
    refusal: /none added/,
  },
  {
    what: 'no runAsNonRoot anywhere',
    change: (p) => delete p.spec.securityContext.runAsNonRoot,
    refusal: /non-root/,
  },
  {
    what: 'no container securityContext',
    change: (p) => delete p.spec.containers[0].securityContext,
    refusal: /non-root/,
  },
  {
    what: 'no activeDeadlineSeconds',
    change: (p) => delete p.spec.activeDeadlineSeconds,
    refusal: /activeDeadlineSeconds/,
  },
  {
    what: 'a too long activeDeadlineSeconds',
    change: (p) => (p.spec.activeDeadlineSeconds = 10 ** 7),
    refusal: /activeDeadlineSeconds/,
  },
  {
    what: "another app's Secret volume",
    change: (p) => p.spec.volumes.push({ name: 's', secret: { secretName: 'blog-config' } }),
    refusal: /may only mount emptyDir/,
  },
  {
    what: 'a legacy service-account token Secret volume',
    change: (p) => p.spec.volumes.push({ name: 't', secret: { secretName: 'default-token-x1' } }),
    refusal: /may only mount emptyDir/,
  },
  {
    what: 'a PersistentVolumeClaim',
    change: (p) => p.spec.volumes.push({ name: 'd', persistentVolumeClaim: { claimName: 'db' } }),
    refusal: /may only mount emptyDir/,
  },
  {
    what: 'an inline CSI volume',
    change: (p) => p.spec.volumes.push({ name: 'c', csi: { driver: 'secrets-store.csi.k8s.io' } }),
    refusal: /may only mount emptyDir/,
  },
  {
    what: "a projected volume with another app's Secret",
    change: (p) =>
      p.spec.volumes.push({
        name: 'p',
        projected: { sources: [{ secret: { name: 'blog-config' } }] },
      }),
    refusal: /may only mount emptyDir/,
  },
  {
    what: 'a secretKeyRef to another Secret',
    change: (p) =>
      (p.spec.containers[0].env = [
        { name: 'PW', valueFrom: { secretKeyRef: { name: 'database', key: 'password' } } },
      ]),
    refusal: /only read the app's config Secret/,
  },
  {
    what: 'envFrom another Secret',
    change: (p) => p.spec.containers[0].envFrom.push({ secretRef: { name: 'blog-config' } }),
    refusal: /only read the app's config Secret/,
  },
  {
    what: 'a hostPort',
    change: (p) => (p.spec.containers[0].ports = [{ containerPort: 22, hostPort: 2222 }]),
    refusal: /host ports/,
  },
  {
    what: 'nodeName',
    change: (p) => (p.spec.nodeName = 'control-plane-1'),
    refusal: /nodeName/,
  },
  {
    what: 'a toleration of every taint',
    change: (p) => (p.spec.tolerations = [{ operator: 'Exists' }]),
    refusal: /tolerate every taint/,
  },
  {
    what: 'a control-plane toleration',
    change: (p) =>
      (p.spec.tolerations = [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }]),
    refusal: /tolerate every taint or control-plane/,
  },
  {
    what: 'seccomp Unconfined on the container',
    change: (p) => (p.spec.containers[0].securityContext.seccompProfile = { type: 'Unconfined' }),
    refusal: /seccompProfile/,
  },
  {
    what: 'no seccomp profile',
    change: (p) => delete p.spec.securityContext.seccompProfile,
    refusal: /seccompProfile/,
  },
  {
    what: 'capabilities not dropped',
    change: (p) => delete p.spec.containers[0].securityContext.capabilities,
    refusal: /drop ALL/,
  },
  {
    what: 'runAsUser 0',
    change: (p) => (p.spec.containers[0].securityContext.runAsUser = 0),
    refusal: /non-root/,
  },
  {
    what: 'sysctls',
    change: (p) => (p.spec.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }]),
    refusal: /sysctls/,
  },
];

describe('helm chart admission policy, enforced by the fake API server', function () {
  this.timeout(30_000);
  const production = VALUE_SETS.find((s) => s.name.includes('production'))!;
  const valuesFiles = production.options.valuesFiles;
  let objects: K8sObject[];
  let fake: FakeApiServer;
  let bastionToken: string;
  let otherToken: string;
  const ns = 'app-shop';
  const goodImage = 'registry.example.com/apps/shop@sha256:0123abcd';
  let params: Json;

  before(async () => {
    await helmBinary();
    objects = await renderSet(production);
    const admission = await chartAdmission(undefined, [], { valuesFiles });
    fake = await startFakeApiServer({
      rbacYaml: await chartRbacYaml(undefined, [], { valuesFiles }),
      admissionYaml: admission.yaml,
      kubelet: { startDelayMs: false },
    });
    for (const cm of admission.params) fake.create(structuredClone(cm));
    params = fake.get('configmaps', ns, admission.params[0]!.metadata.name);
    // Pod Security has its own test below: these test the policies alone.
    for (const name of ['app-shop', 'app-blog']) {
      fake.update('namespaces', '', name, (o) => {
        o.metadata!.labels = { 'kubernetes.io/metadata.name': name };
      });
    }
    bastionToken = fake.serviceAccountToken(NAMESPACE, SA.bastion);
    otherToken = fake.serviceAccountToken(ns, 'deployer');
    fake.loadRbacYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: deployer-admin, namespace: ${ns} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin }
subjects: [{ kind: ServiceAccount, name: deployer, namespace: ${ns} }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: admin }
rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]
`);
  });
  after(async () => {
    await fake?.stop();
  });

  const podsPath = (namespace: string) => `/api/v1/namespaces/${namespace}/pods`;
  const create = (pod: Json, token = bastionToken): Promise<RawResult> =>
    apiRequest(fake, token, 'POST', `${podsPath(pod.metadata.namespace)}?dryRun=All`, pod);
  const admitted = async (pod: Json) => {
    const r = await create(pod);
    assert.equal(r.status, 201, r.text);
  };
  const refused = async (pod: Json, why: RegExp, token = bastionToken) => {
    const r = await create(pod, token);
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /ValidatingAdmissionPolicy/);
    assert.match(r.text, why);
  };

  it('admits a proper console pod with an allowed image', () =>
    admitted(consolePod(ns, goodImage)));

  it('admits runAsNonRoot set on the container instead of the pod', () => {
    const pod = consolePod(ns, goodImage);
    delete pod.spec.securityContext.runAsNonRoot;
    pod.spec.containers[0].securityContext.runAsNonRoot = true;
    return admitted(pod);
  });

  it("admits the app's own config Secret as a volume and as secretKeyRef", () => {
    const pod = consolePod(ns, goodImage);
    pod.spec.volumes.push({ name: 'cfg', secret: { secretName: 'shop-config' } });
    pod.spec.containers[0].env = [
      { name: 'A', valueFrom: { secretKeyRef: { name: 'shop-config', key: 'A' } } },
    ];
    pod.spec.tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'apps' }];
    return admitted(pod);
  });

  it('admits the console pod the Kubernetes platform builds with the chart config', async () => {
    const { type, ...platformConfig } = serverConfig(objects, 'bastion').platform;
    assert.equal(type, 'kubernetes');
    const config = kubernetesPlatformConfigSchema.parse(platformConfig);
    const template = {
      metadata: { labels: { 'neetodeploy.com/app': 'shop', 'neetodeploy.com/process': 'web' } },
      spec: {
        securityContext: { runAsUser: 1000, fsGroup: 1000 },
        tolerations: [{ operator: 'Exists' }, { key: 'dedicated', operator: 'Exists' }],
        containers: [
          {
            name: 'web',
            image: goodImage,
            envFrom: [{ secretRef: { name: 'shop-config' } }, { secretRef: { name: 'db' } }],
            env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } }],
            volumeMounts: [
              { name: 'tls', mountPath: '/tls' },
              { name: 'host', mountPath: '/h' },
              { name: 'cfg', mountPath: '/cfg' },
            ],
          },
        ],
        volumes: [
          { name: 'tls', secret: { secretName: 'shop-tls' } },
          { name: 'cfg', secret: { secretName: 'shop-config' } },
          { name: 'host', hostPath: { path: '/var/run' } },
          { name: 'tok', projected: { sources: [{ serviceAccountToken: { path: 't' } }] } },
        ],
      },
    };
    const pod = buildConsolePod(
      {
        app: 'shop',
        namespace: ns,
        process: 'web',
        template,
        sessionId: 'a1b2c3d4',
        suffix: 'x1y2z',
        user: 'alice@example.com',
        configSecret: 'shop-config',
        now: new Date(),
      },
      config,
    );
    await admitted(pod);
    assert.deepEqual(
      (pod.spec?.volumes ?? []).map((v) => v.name),
      ['cfg'],
      'only the config Secret volume is kept',
    );
  });

  for (const m of MUTATIONS) {
    it(`refuses a console pod with ${m.what}`, () => {
      const pod = consolePod(ns, goodImage);
      m.change(pod);
      return refused(pod, m.refusal);
    });
  }

  it('refuses every console where the namespace lists no image, or lacks its parameters', async () => {
    const name = params.metadata.name as string;
    const saved = structuredClone(params.data);
    try {
      fake.update('configmaps', ns, name, (o) => (o.data = {}));
      await refused(consolePod(ns, goodImage), /images allowed/);
      fake.delete('configmaps', ns, name);
      // Kubernetes answers a missing parameter under `Deny` with 422 Invalid.
      const r = await create(consolePod(ns, goodImage));
      assert.equal(r.status, 422, r.text);
      assert.match(r.text, /no params found/);
    } finally {
      if (!fake.get('configmaps', ns, name))
        fake.create({ ...structuredClone(params), metadata: { name, namespace: ns } });
      fake.update('configmaps', ns, name, (o) => (o.data = saved));
    }
  });

  it('leaves pods created by anyone else to the rest of the cluster', async () => {
    const pod = consolePod(ns, 'docker.io/evil/miner');
    pod.spec.hostNetwork = true;
    const r = await create(pod, otherToken);
    assert.equal(r.status, 201, r.text);
  });

  /** A console (or app) pod in the store, then a change to it as the bastion (dry run). */
  const seeded = (labels: Record<string, string> | undefined): string => {
    const pod = consolePod(ns, goodImage);
    pod.metadata.name = `p-${Math.random().toString(36).slice(2, 8)}`;
    if (labels === undefined) delete pod.metadata.labels;
    else pod.metadata.labels = labels;
    fake.create(pod);
    return pod.metadata.name;
  };
  const consoleLabels = () => consolePod(ns, goodImage).metadata.labels;

  it('lets the bastion delete console pods only', async () => {
    const del = (name: string) =>
      apiRequest(fake, bastionToken, 'DELETE', `${podsPath(ns)}/${name}?dryRun=All`);
    assert.equal((await del(seeded(consoleLabels()))).status, 200);
    const appLabels = consoleLabels();
    delete appLabels['neetodeploy.com/console'];
    const r = await del(seeded(appLabels));
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /only change or delete console pods/);
    assert.match((await del(seeded(undefined))).text, /only change or delete console pods/);
  });

  it("lets the bastion change only a console pod's annotations (the heartbeat)", async () => {
    const patch = (name: string, body: unknown) =>
      apiRequest(fake, bastionToken, 'PATCH', `${podsPath(ns)}/${name}?dryRun=All`, body);
    const heartbeat = {
      metadata: { annotations: { 'neetodeploy.com/heartbeat': new Date().toISOString() } },
    };
    assert.equal((await patch(seeded(consoleLabels()), heartbeat)).status, 200);
    // A pod's image is mutable: a patch must not swap it, on a console or an app pod.
    const swap = { spec: { containers: [{ name: 'console', image: 'docker.io/evil/miner' }] } };
    assert.match((await patch(seeded(consoleLabels()), swap)).text, /only change the annotations/);
    const appLabels = consoleLabels();
    delete appLabels['neetodeploy.com/console'];
    assert.match(
      (await patch(seeded(appLabels), heartbeat)).text,
      /only change or delete console pods/,
    );
    const relabel = { metadata: { labels: { 'neetodeploy.com/app': 'shop' } } };
    assert.match(
      (await patch(seeded(consoleLabels()), relabel)).text,
      /only change the annotations/,
    );
  });

  it('enforces Pod Security restricted on a labelled namespace, before the policies', async () => {
    fake.update('namespaces', '', 'app-blog', (o) => {
      o.metadata!.labels = {
        'kubernetes.io/metadata.name': 'app-blog',
        'pod-security.kubernetes.io/enforce': 'restricted',
      };
    });
    const pod = consolePod('app-blog', 'registry.example.com/apps/blog@sha256:0');
    pod.metadata.labels['neetodeploy.com/console-app'] = 'blog';
    pod.spec.containers[0].envFrom = [{ secretRef: { name: 'blog-config' } }];
    const ok = await create(pod);
    assert.equal(ok.status, 201, ok.text);
    pod.spec.volumes.push({ name: 'root', hostPath: { path: '/' } });
    const r = await create(pod);
    assert.equal(r.status, 403, r.text);
    const { message } = JSON.parse(r.text) as { message: string };
    assert.match(message, /violates PodSecurity "restricted:latest": .*hostPath volumes/);
  });
});

describe('helm chart admission policy: the keys-service may only restart Deployments', function () {
  this.timeout(30_000);
  let fake: FakeApiServer;
  let keysToken: string;
  const ns = 'apps';
  const values = { appNamespaces: [{ name: ns, configSecretNames: ['shop-config'] }] };
  const deployment = `/apis/apps/v1/namespaces/${ns}/deployments/shop-web`;

  before(async () => {
    const admission = await chartAdmission(values);
    fake = await startFakeApiServer({
      rbacYaml: await chartRbacYaml(values),
      admissionYaml: admission.yaml,
      kubelet: { startDelayMs: false },
    });
    keysToken = fake.serviceAccountToken(NAMESPACE, SA.keysService);
    const labels = { 'neetodeploy.com/app': 'shop', 'neetodeploy.com/process': 'web' };
    fake.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop-web', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { 'prometheus.io/scrape': 'true' } },
          spec: { containers: [{ name: 'web', image: 'registry.example/app:1' }] },
        },
      },
    });
  });
  after(async () => {
    await fake?.stop();
  });

  const patch = (body: unknown, type = 'application/merge-patch+json') =>
    apiRequest(fake, keysToken, 'PATCH', deployment, body, type);
  const template = (t: unknown) => ({ spec: { template: t } });

  it('admits the restart annotation, as the platform sets it', async () => {
    const stamp = new Date().toISOString();
    const r = await patch(
      template({ metadata: { annotations: { 'neetodeploy.com/restartedAt': stamp } } }),
      'application/strategic-merge-patch+json',
    );
    assert.equal(r.status, 200, r.text);
    const kubectl = template({
      metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': stamp } },
    });
    assert.equal((await patch(kubectl)).status, 200);
  });

  const refusals: [string, unknown][] = [
    ['an image change', template({ spec: { containers: [{ name: 'web', image: 'evil/miner' }] } })],
    ['a privileged template', template({ spec: { hostNetwork: true } })],
    ['another template annotation', template({ metadata: { annotations: { 'x/y': 'z' } } })],
    [
      'removing a template annotation',
      template({ metadata: { annotations: { 'prometheus.io/scrape': null } } }),
    ],
    ['a template label', template({ metadata: { labels: { extra: 'x' } } })],
    ['a scale', { spec: { replicas: 50 } }],
    ['a Deployment label', { metadata: { labels: { extra: 'x' } } }],
  ];
  for (const [what, body] of refusals) {
    it(`refuses ${what}`, async () => {
      const r = await patch(body);
      assert.equal(r.status, 403, r.text);
      assert.match(r.text, /deployment-restart' .*denied request/);
    });
  }
});
