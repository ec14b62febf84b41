/**
 * The chart's ValidatingAdmissionPolicies, evaluated with a CEL interpreter the way the API
 * server evaluates them (matchConditions, then variables, then every validation) against pods
 * the bastion might create or delete: a proper console pod is admitted, and each way of
 * stepping outside it is refused by the validation meant for it.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- rendered manifests are untyped JSON (see helpers.ts Json) */
import assert from 'node:assert/strict';
import { evaluate } from '@marcbachmann/cel-js';
import { buildConsolePod, kubernetesPlatformConfigSchema } from '@neetodeploy/platform';
import { helmBinary, serviceAccountNames, type K8sObject } from '../support/chart.js';
import { NAMESPACE, VALUE_SETS, byKind, renderSet, serverConfig, type Json } from './helpers.js';

const BASTION_USER = `system:serviceaccount:${NAMESPACE}:${serviceAccountNames().bastion}`;

/** CEL has int and double; Kubernetes integers are ints, so JSON integers become bigints. */
function celValue(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(celValue);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  }
  return value;
}

interface Admission {
  readonly matched: boolean;
  /** Messages of the validations that failed (empty: admitted). */
  readonly failures: string[];
}

function admit(
  policy: Json,
  request: { operation: 'CREATE' | 'UPDATE' | 'DELETE'; username: string; namespace: string },
  object: unknown,
  oldObject: unknown,
  params: unknown,
): Admission {
  const context: Record<string, unknown> = {
    object: celValue(object),
    oldObject: celValue(oldObject),
    params: celValue(params),
    request: {
      operation: request.operation,
      namespace: request.namespace,
      userInfo: { username: request.username },
    },
  };
  for (const condition of (policy.spec.matchConditions ?? []) as Json[]) {
    if (evaluate(condition.expression as string, context) !== true)
      return { matched: false, failures: [] };
  }
  const variables: Record<string, unknown> = {};
  context.variables = variables;
  for (const v of (policy.spec.variables ?? []) as Json[]) {
    variables[v.name as string] = evaluate(v.expression as string, context);
  }
  const failures: string[] = [];
  for (const validation of policy.spec.validations as Json[]) {
    const ok = evaluate(validation.expression as string, context);
    assert.equal(typeof ok, 'boolean', `validation yields a boolean: ${validation.expression}`);
    if (!ok) {
      failures.push(
        validation.message ?? String(evaluate(validation.messageExpression as string, context)),
      );
    }
  }
  return { matched: true, failures };
}

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
    refusal: /service account tokens/,
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
    refusal: /no added capabilities/,
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
];

describe('helm chart admission policy (CEL)', function () {
  this.timeout(30_000);
  const production = VALUE_SETS.find((s) => s.name.includes('production'))!;
  let objects: K8sObject[];
  let createPolicy: Json;
  let changePolicy: Json;
  const ns = 'app-shop';
  const goodImage = 'registry.example.com/apps/shop@sha256:0123abcd';
  let params: Json;

  before(async () => {
    await helmBinary();
    objects = await renderSet(production);
    const policies = byKind(objects, 'ValidatingAdmissionPolicy') as Json[];
    createPolicy = policies.find((p) => p.metadata.name.endsWith('-console-create'));
    changePolicy = policies.find((p) => p.metadata.name.endsWith('-console-change'));
    const binding = byKind(objects, 'ValidatingAdmissionPolicyBinding').find(
      (b) => (b as Json).spec.policyName === createPolicy.metadata.name,
    ) as Json;
    params = objects.find(
      (o) =>
        o.kind === 'ConfigMap' &&
        o.metadata.name === binding.spec.paramRef.name &&
        o.metadata.namespace === ns,
    );
    assert.ok(params, 'the binding names a parameter ConfigMap rendered in the namespace');
  });

  const create = (pod: Json, p: unknown = params, username = BASTION_USER) =>
    admit(
      createPolicy,
      { operation: 'CREATE', username, namespace: pod.metadata.namespace },
      pod,
      null,
      p,
    );

  it('admits a proper console pod with an allowed image', () => {
    assert.deepEqual(create(consolePod(ns, goodImage)), { matched: true, failures: [] });
  });

  it('admits runAsNonRoot set on the container instead of the pod', () => {
    const pod = consolePod(ns, goodImage);
    delete pod.spec.securityContext.runAsNonRoot;
    pod.spec.containers[0].securityContext.runAsNonRoot = true;
    assert.deepEqual(create(pod).failures, []);
  });

  it("admits a console pod mounting the app's own Secret volume", () => {
    const pod = consolePod(ns, goodImage);
    pod.spec.volumes.push({ name: 'tls', secret: { secretName: 'shop-tls' } });
    assert.deepEqual(create(pod).failures, []);
  });

  it('admits the console pod the Kubernetes platform builds with the chart config', () => {
    const { type, ...platformConfig } = serverConfig(objects, 'bastion').platform;
    assert.equal(type, 'kubernetes');
    const config = kubernetesPlatformConfigSchema.parse(platformConfig);
    const template = {
      metadata: { labels: { 'neetodeploy.com/app': 'shop', 'neetodeploy.com/process': 'web' } },
      spec: {
        securityContext: { runAsUser: 1000, fsGroup: 1000 },
        containers: [
          {
            name: 'web',
            image: goodImage,
            envFrom: [{ secretRef: { name: 'shop-config' } }],
            volumeMounts: [
              { name: 'tls', mountPath: '/tls' },
              { name: 'host', mountPath: '/h' },
            ],
          },
        ],
        volumes: [
          { name: 'tls', secret: { secretName: 'shop-tls' } },
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
    assert.deepEqual(create(pod), { matched: true, failures: [] });
  });

  for (const m of MUTATIONS) {
    it(`refuses a console pod with ${m.what}`, () => {
      const pod = consolePod(ns, goodImage);
      m.change(pod);
      const result = create(pod);
      assert.equal(result.matched, true);
      assert.ok(result.failures.length > 0, 'refused');
      assert.ok(
        result.failures.some((f) => m.refusal.test(f)),
        `refused for the right reason: ${result.failures.join(' | ')}`,
      );
    });
  }

  it('refuses every console where the namespace lists no image, or lacks its parameters', () => {
    const emptyParams = { ...params, data: {} };
    assert.match(create(consolePod(ns, goodImage), emptyParams).failures.join(), /images allowed/);
    const noData = { ...params };
    delete noData.data;
    assert.match(create(consolePod(ns, goodImage), noData).failures.join(), /images allowed/);
    const defaults = VALUE_SETS.find((s) => s.name === 'defaults')!;
    return renderSet(defaults).then((objs) => {
      const cm = objs.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-console-images'),
      ) as Json;
      assert.deepEqual(cm.data, {});
      assert.match(create(consolePod('apps', goodImage), cm).failures.join(), /images allowed/);
    });
  });

  it('leaves pods created by anyone else to the rest of the cluster', () => {
    const pod = consolePod(ns, 'docker.io/evil/miner');
    pod.spec.hostNetwork = true;
    const other = `system:serviceaccount:${ns}:deployer`;
    assert.deepEqual(create(pod, params, other), { matched: false, failures: [] });
  });

  it('lets the bastion delete console pods only', () => {
    const del = (pod: Json) =>
      admit(
        changePolicy,
        { operation: 'DELETE', username: BASTION_USER, namespace: ns },
        null,
        pod,
        null,
      );
    assert.deepEqual(del(consolePod(ns, goodImage)), { matched: true, failures: [] });
    const appPod = consolePod(ns, goodImage);
    delete appPod.metadata.labels['neetodeploy.com/console'];
    assert.match(del(appPod).failures.join(), /only change or delete console pods/);
    const unlabelled = consolePod(ns, goodImage);
    delete unlabelled.metadata.labels;
    assert.match(del(unlabelled).failures.join(), /only change or delete console pods/);
  });

  it("lets the bastion change only a console pod's annotations (the heartbeat)", () => {
    const update = (before: Json, change: (pod: Json) => void) => {
      const after = structuredClone(before);
      change(after);
      return admit(
        changePolicy,
        { operation: 'UPDATE', username: BASTION_USER, namespace: ns },
        after,
        before,
        null,
      ).failures;
    };
    const heartbeat = (p: Json) =>
      (p.metadata.annotations = { 'neetodeploy.com/heartbeat': new Date().toISOString() });
    assert.deepEqual(update(consolePod(ns, goodImage), heartbeat), []);
    // A pod's image is mutable: a patch must not swap it, on a console or an app pod.
    const swapImage = (p: Json) => (p.spec.containers[0].image = 'docker.io/evil/miner');
    assert.match(
      update(consolePod(ns, goodImage), swapImage).join(),
      /only change the annotations/,
    );
    const appPod = consolePod(ns, goodImage);
    delete appPod.metadata.labels['neetodeploy.com/console'];
    assert.match(update(appPod, heartbeat).join(), /only change or delete console pods/);
    const relabel = (p: Json) => (p.metadata.labels['neetodeploy.com/app'] = 'shop');
    assert.match(update(consolePod(ns, goodImage), relabel).join(), /only change the annotations/);
  });
});
