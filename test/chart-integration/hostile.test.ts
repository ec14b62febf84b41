/**
 * The hostile request list: for each ServiceAccount of the chart, what a thief of its token
 * would try, sent by the real `kubectl` (the 1.35 build) with that token to the fake API server
 * running the chart's rendered RBAC, its ValidatingAdmissionPolicies and Pod Security
 * `restricted` on the app namespaces (production values: per-app namespaces, pinned Secrets).
 * Every request must be refused, by RBAC (403 "cannot") or by admission; the few rights a
 * token does keep are listed as such, so the risk table in docs/operations.md stays true.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  CHART_DIR,
  DEFAULT_NAMESPACE,
  chartAdmission,
  chartRbacYaml,
  serviceAccountNames,
} from '../support/chart.js';
import { serviceAccountUsername, startFakeApiServer } from '../support/fake-apiserver/index.js';
import type { FakeApiServer } from '../support/fake-apiserver/index.js';
import { kubectlBinaries, run, tempHome } from '../fake-apiserver/helpers.js';
import { seedApp } from './support.js';

const VALUES_FILES = [path.join(CHART_DIR, 'ci', 'production-values.yaml')];
const NS = DEFAULT_NAMESPACE;
const SA = serviceAccountNames();
const FULLNAME = SA.bastion.replace(/-bastion$/, '');
const CA_SECRET = `${FULLNAME}-ca`;
const HOST_KEY_SECRET = `${FULLNAME}-bastion-host-key`;
const HELM_SECRET = 'sh.helm.release.v1.access.v1';
const SHOP_IMAGE = 'registry.example.com/apps/shop@sha256:0123abcd';

/** How a request must end. */
type Outcome = 'rbac' | 'admission';

interface Attempt {
  readonly what: string;
  readonly args: string[];
  readonly input?: object;
  readonly expect: Outcome;
}

/** A pod that passes every console rule; each attack changes one thing. */
function consolePod(change: (spec: Record<string, unknown>) => void = () => undefined): object {
  const spec: Record<string, unknown> = {
    automountServiceAccountToken: false,
    activeDeadlineSeconds: 600,
    restartPolicy: 'Never',
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'console',
        image: SHOP_IMAGE,
        command: ['sleep', '600'],
        envFrom: [{ secretRef: { name: 'shop-config' } }],
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
  };
  change(spec);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `shop-console-${Math.random().toString(36).slice(2, 8)}`,
      namespace: 'app-shop',
      labels: {
        'neetodeploy.com/console': 'true',
        'neetodeploy.com/console-app': 'shop',
        'neetodeploy.com/session': 'hostile',
      },
    },
    spec,
  };
}

const container = (spec: Record<string, unknown>): Record<string, unknown> =>
  (spec.containers as Record<string, unknown>[])[0]!;

/** What any thief tries first, whichever token it holds. */
function commonAttempts(appPod: string, otherPod: string, rbacOnPods: Outcome): Attempt[] {
  return [
    { what: 'read the CA Secret', args: ['get', 'secret', CA_SECRET, '-n', NS], expect: 'rbac' },
    {
      what: "read the bastion's host key",
      args: ['get', 'secret', HOST_KEY_SECRET, '-n', NS],
      expect: 'rbac',
    },
    {
      what: 'list Secrets of the release namespace',
      args: ['get', 'secrets', '-n', NS],
      expect: 'rbac',
    },
    {
      what: "delete Helm's release Secret",
      args: ['delete', 'secret', HELM_SECRET, '-n', NS],
      expect: 'rbac',
    },
    {
      what: 'list Secrets of an app namespace',
      args: ['get', 'secrets', '-n', 'app-shop'],
      expect: 'rbac',
    },
    {
      what: "read an app's database password Secret",
      args: ['get', 'secret', 'database', '-n', 'app-shop'],
      expect: 'rbac',
    },
    { what: 'list Secrets cluster-wide', args: ['get', 'secrets', '-A'], expect: 'rbac' },
    { what: 'list pods cluster-wide', args: ['get', 'pods', '-A'], expect: 'rbac' },
    {
      what: 'exec into a pod of a namespace the chart does not list',
      args: ['exec', '-n', 'other-team', otherPod, '--', 'id'],
      expect: 'rbac',
    },
    {
      what: 'scale an app to 50 replicas',
      args: ['scale', 'deployment', 'shop-web', '--replicas=50', '-n', 'app-shop'],
      expect: 'rbac',
    },
    {
      what: 'delete an app Deployment',
      args: ['delete', 'deployment', 'shop-web', '-n', 'app-shop'],
      expect: 'rbac',
    },
    {
      what: 'grant itself a Role',
      args: [
        'create',
        'rolebinding',
        'steal',
        '--clusterrole=admin',
        '--user=me',
        '-n',
        'app-shop',
      ],
      expect: 'rbac',
    },
    {
      what: 'create a privileged pod',
      args: ['create', '-f', '-'],
      input: consolePod((s) => (container(s).securityContext = { privileged: true })),
      expect: rbacOnPods,
    },
    {
      what: 'create a hostPath pod',
      args: ['create', '-f', '-'],
      input: consolePod((s) => (s.volumes = [{ name: 'root', hostPath: { path: '/' } }])),
      expect: rbacOnPods,
    },
    {
      what: "create a pod reading another app's config Secret",
      args: ['create', '-f', '-'],
      input: consolePod((s) => (container(s).envFrom = [{ secretRef: { name: 'blog-config' } }])),
      expect: rbacOnPods,
    },
    {
      what: 'create a pod mounting the database Secret',
      args: ['create', '-f', '-'],
      input: consolePod((s) => (s.volumes = [{ name: 'db', secret: { secretName: 'database' } }])),
      expect: rbacOnPods,
    },
    {
      what: 'create a pod pinned to a node with a toleration of everything',
      args: ['create', '-f', '-'],
      input: consolePod((s) => {
        s.nodeName = 'control-plane-1';
        s.tolerations = [{ operator: 'Exists' }];
      }),
      expect: rbacOnPods,
    },
    {
      what: 'create a pod with a hostPort',
      args: ['create', '-f', '-'],
      input: consolePod((s) => (container(s).ports = [{ containerPort: 22, hostPort: 22 }])),
      expect: rbacOnPods,
    },
    {
      what: 'create a pod with seccomp Unconfined',
      args: ['create', '-f', '-'],
      input: consolePod(
        (s) =>
          (container(s).securityContext = {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'Unconfined' },
          }),
      ),
      expect: rbacOnPods,
    },
    {
      what: 'create a pod with a foreign image',
      args: ['create', '-f', '-'],
      input: consolePod((s) => (container(s).image = 'docker.io/evil/miner:latest')),
      expect: rbacOnPods,
    },
    {
      what: "delete an app's pod",
      args: ['delete', 'pod', appPod, '-n', 'app-shop', '--wait=false'],
      expect: rbacOnPods,
    },
  ];
}

interface Thief {
  readonly account: string;
  readonly attempts: (appPod: string, otherPod: string) => Attempt[];
}

const THIEVES: readonly Thief[] = [
  {
    account: SA.bastion,
    attempts: (appPod, otherPod) => [
      ...commonAttempts(appPod, otherPod, 'admission'),
      {
        what: "patch an app Deployment's image",
        args: ['set', 'image', 'deployment/shop-web', 'web=docker.io/evil/miner', '-n', 'app-shop'],
        expect: 'rbac',
      },
      {
        what: "relabel an app pod (steal its Service's traffic)",
        args: ['label', 'pod', appPod, 'neetodeploy.com/app=blog', '--overwrite', '-n', 'app-shop'],
        expect: 'admission',
      },
    ],
  },
  {
    account: SA.keysService,
    attempts: (appPod, otherPod) => [
      ...commonAttempts(appPod, otherPod, 'rbac'),
      {
        what: "patch an app Deployment's image",
        args: ['set', 'image', 'deployment/shop-web', 'web=docker.io/evil/miner', '-n', 'app-shop'],
        expect: 'admission',
      },
      {
        what: "make an app Deployment's pods privileged",
        args: [
          'patch',
          'deployment',
          'shop-web',
          '-n',
          'app-shop',
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { template: { spec: { hostNetwork: true, hostPID: true } } } }),
        ],
        expect: 'admission',
      },
      {
        what: 'exec into an app pod',
        args: ['exec', '-n', 'app-shop', appPod, '--', 'id'],
        expect: 'rbac',
      },
    ],
  },
];

describe('hostile request list: stolen chart tokens against the chart RBAC and admission', function () {
  this.timeout(120_000);
  let fake: FakeApiServer;
  let home: ReturnType<typeof tempHome>;
  let kubectl: string;
  let appPod: string;
  let otherPod: string;

  before(async () => {
    kubectl = kubectlBinaries().find((b) => b.label.includes('1.35'))!.path;
    home = tempHome();
    const admission = await chartAdmission(undefined, [], { valuesFiles: VALUES_FILES });
    fake = await startFakeApiServer({
      rbacYaml: await chartRbacYaml(undefined, [], {
        valuesFiles: VALUES_FILES,
        includeHooks: true,
      }),
      admissionYaml: admission.yaml,
      kubelet: { startDelayMs: 20 },
    });
    for (const cm of admission.params) fake.create(structuredClone(cm));
    appPod = seedApp(fake, 'shop', 'app-shop');
    seedApp(fake, 'blog', 'app-blog');
    otherPod = seedApp(fake, 'intruder', 'other-team');
    for (const name of [CA_SECRET, HOST_KEY_SECRET, HELM_SECRET]) {
      fake.create({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: NS },
        data: {},
      });
    }
    fake.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'database', namespace: 'app-shop' },
      data: { PASSWORD: Buffer.from('hunter2').toString('base64') },
    });
    for (const account of [SA.bastion, SA.keysService, SA.bootstrap])
      fake.serviceAccountToken(NS, account);
  });
  after(async () => {
    await fake?.stop();
    home?.cleanup();
  });

  const kubectlAs = (account: string, args: string[], input?: object) =>
    run(kubectl, args, {
      env: {
        PATH: process.env.PATH,
        HOME: home.dir,
        KUBECONFIG: fake.kubeconfigPath(serviceAccountUsername(NS, account)),
      },
      ...(input ? { input: stringify(input) } : {}),
    });

  const assertRefused = (outcome: Outcome, r: { code: number | null; stderr: string }) => {
    assert.notEqual(r.code, 0, `kubectl succeeded: ${r.stderr}`);
    if (outcome === 'rbac') {
      // kubectl words it "Error from server (Forbidden): …" or "error: failed to …: …"; the
      // fake knows no deployments/scale subresource and refuses that path as a non-resource URL.
      assert.match(r.stderr, /forbidden: User "system:serviceaccount:[^"]+" cannot /, r.stderr);
    } else {
      assert.match(
        r.stderr,
        /ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request|violates PodSecurity "restricted:latest"/,
        r.stderr,
      );
    }
  };

  for (const thief of THIEVES) {
    describe(`with the ${thief.account.replace(/^.*-(bastion|keys-service)$/, '$1')} token`, () => {
      // The attempts need the seeded pod names, known once `before` ran: build them lazily.
      for (const [i, sample] of thief.attempts('POD', 'OTHER').entries()) {
        it(`${sample.what}: refused by ${sample.expect === 'rbac' ? 'RBAC (403)' : 'admission'}`, async () => {
          const attempt = thief.attempts(appPod, otherPod)[i]!;
          assertRefused(
            attempt.expect,
            await kubectlAs(thief.account, attempt.args, attempt.input),
          );
        });
      }
    });
  }

  // Controls: the same tokens, the same path, doing their jobs, so the refusals above are the
  // rules at work and not a blanket denial.
  describe('what the tokens exist for still works', () => {
    it('the bastion creates a proper console pod (admitted by the policies and Pod Security)', async () => {
      const r = await kubectlAs(SA.bastion, ['create', '-f', '-', '-o', 'name'], consolePod());
      assert.equal(r.code, 0, r.stderr);
    });
    it('the keys-service restarts an app as `kubectl rollout restart` does', async () => {
      const r = await kubectlAs(SA.keysService, [
        'rollout',
        'restart',
        'deployment/shop-web',
        '-n',
        'app-shop',
      ]);
      assert.equal(r.code, 0, r.stderr);
    });
    it("the keys-service reads the app's config Secret", async () => {
      const r = await kubectlAs(SA.keysService, [
        'get',
        'secret',
        'shop-config',
        '-n',
        'app-shop',
        '-o',
        'name',
      ]);
      assert.equal(r.code, 0, r.stderr);
    });
  });

  describe('with the bootstrap token (exists only while the pre-install hook runs)', () => {
    const refused: [string, string[]][] = [
      ["delete Helm's release Secret", ['delete', 'secret', HELM_SECRET, '-n', NS]],
      ['list Secrets of the release namespace', ['get', 'secrets', '-n', NS]],
      ["overwrite the bastion's host key", ['delete', 'secret', HOST_KEY_SECRET, '-n', NS]],
      ['read an app namespace Secret', ['get', 'secret', 'database', '-n', 'app-shop']],
      ['create a pod', ['run', 'x', '--image=busybox', '-n', NS]],
    ];
    for (const [what, args] of refused) {
      it(`${what}: refused by RBAC (403)`, async () => {
        assertRefused('rbac', await kubectlAs(SA.bootstrap, args));
      });
    }
    it('may read the CA Secret (it certifies the host key): the risk the table lists', async () => {
      const r = await kubectlAs(SA.bootstrap, ['get', 'secret', CA_SECRET, '-n', NS, '-o', 'name']);
      assert.equal(r.code, 0, r.stderr);
    });
  });
});
