/**
 * `helm lint --strict` and `helm template` of charts/neetodeploy-access for the default values
 * and every documented value set (ci/*.yaml): the manifests validate against the Kubernetes
 * schemas, and the security properties the chart promises hold in each of them.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- rendered manifests are untyped JSON (see helpers.ts Json) */
import assert from 'node:assert/strict';
import {
  helmBinary,
  lintChart,
  serviceAccountNames,
  type HelmResult,
  type K8sObject,
} from '../support/chart.js';
import {
  NAMESPACE,
  VALUE_SETS,
  byKind,
  component,
  kubernetesFieldErrors,
  podSpecs,
  renderSet,
  selects,
  serverConfig,
  validateAgainstKubernetesSchema,
  type Json,
} from './helpers.js';

const SA = serviceAccountNames();
const BASTION_USER = `system:serviceaccount:${NAMESPACE}:${SA.bastion}`;

function rulesOf(role: K8sObject): Json[] {
  return ((role as Json).rules ?? []) as Json[];
}

/** RoleBindings (and ClusterRoleBindings) whose subjects include this ServiceAccount. */
function bindingsOf(objects: readonly K8sObject[], saName: string): Json[] {
  return objects.filter(
    (o) =>
      (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') &&
      ((o as Json).subjects as Json[]).some(
        (s) => s.kind === 'ServiceAccount' && s.name === saName && s.namespace === NAMESPACE,
      ),
  );
}

function roleFor(objects: readonly K8sObject[], binding: Json): K8sObject {
  const role = objects.find(
    (o) =>
      o.kind === binding.roleRef.kind &&
      o.metadata.name === binding.roleRef.name &&
      (o.kind === 'ClusterRole' || o.metadata.namespace === binding.metadata.namespace),
  );
  assert.ok(role, `role ${binding.roleRef.name} of binding ${binding.metadata.name} is rendered`);
  return role;
}

function appNamespaces(objects: readonly K8sObject[]): string[] {
  const binding = objects.find(
    (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata.name.endsWith('-create'),
  ) as Json;
  if (binding) return binding.spec.matchResources.namespaceSelector.matchExpressions[0].values;
  return byKind(objects, 'Role')
    .filter((r) => component(r) === 'bastion')
    .map((r) => r.metadata.namespace!);
}

function containerPort(container: Json, name: string): number {
  const port = (container.ports as Json[]).find((p) => p.name === name);
  assert.ok(port, `container ${container.name} has a port named ${name}`);
  return port.containerPort as number;
}

function deployment(objects: readonly K8sObject[], comp: string): Json {
  const found = byKind(objects, 'Deployment').filter((d) => component(d) === comp);
  assert.equal(found.length, 1, `one ${comp} Deployment`);
  return found[0];
}

describe('helm chart neetodeploy-access', function () {
  this.timeout(60_000);

  // Every value set's render and lint start at once (independent helm processes).
  const lints = new Map<string, Promise<HelmResult>>();
  before(async () => {
    await helmBinary();
    for (const set of VALUE_SETS) {
      void renderSet(set).catch(() => undefined);
      lints.set(set.name, lintChart(undefined, [], set.options));
    }
  });

  it('uses only fields the Kubernetes API knows, with the right types (strict field validation)', async () => {
    const all = (await Promise.all(VALUE_SETS.map((s) => renderSet(s)))).flat();
    // One misspelt field deep in a pod spec, to show the check catches exactly that.
    const typo = structuredClone(all.find((o) => o.kind === 'Deployment')!) as Json;
    typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    const errors = kubernetesFieldErrors([...all, typo]);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /Deployment .*readOnlyRootFileSystem.*does not exist/);
  });

  for (const set of VALUE_SETS) {
    describe(`values: ${set.name}`, () => {
      let objects: K8sObject[];
      before(async () => {
        objects = await renderSet(set);
      });

      it('passes helm lint --strict', async () => {
        const run = await lints.get(set.name)!;
        assert.equal(run.code, 0, run.stdout + run.stderr);
        assert.match(run.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      });

      it('renders objects that validate against the Kubernetes schemas', async () => {
        assert.ok(objects.length > 15, `rendered ${objects.length} objects`);
        let validated = 0;
        for (const o of objects) {
          if (await validateAgainstKubernetesSchema(o)) validated++;
        }
        const crds = objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'));
        assert.equal(validated + crds.length, objects.length);
        for (const sm of crds.filter((o) => o.kind !== 'PrometheusRule')) {
          assert.equal(sm.kind, 'ServiceMonitor');
          assert.ok(((sm as Json).spec.endpoints as Json[]).length > 0);
        }
        // The host certificate's expiry alerts: a warning, then a page.
        for (const rule of crds.filter((o) => o.kind === 'PrometheusRule')) {
          const alerts = ((rule as Json).spec.groups as Json[]).flatMap((g) => g.rules as Json[]);
          assert.deepEqual(
            alerts.map((a) => [a.alert, a.labels.severity]),
            [
              ['NeetodeployBastionHostCertificateExpiring', 'warning'],
              ['NeetodeployBastionHostCertificateExpiring', 'critical'],
            ],
          );
          for (const a of alerts)
            assert.match(
              a.expr,
              /^min by \(namespace\) \(neetodeploy_bastion_host_certificate_expiry_timestamp_seconds\{namespace="[^"]+", service="[^"]+-bastion-metrics"\}\) - time\(\)\s+< \d+$/,
            );
        }
        const names = objects.map(
          (o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`,
        );
        assert.equal(new Set(names).size, names.length, 'no object is rendered twice');
        for (const o of objects) assert.ok(o.metadata.name.length <= 63, o.metadata.name);
      });

      it('grants nothing cluster-wide and never any wildcard', () => {
        assert.deepEqual(byKind(objects, 'ClusterRole'), []);
        assert.deepEqual(byKind(objects, 'ClusterRoleBinding'), []);
        for (const role of byKind(objects, 'Role')) {
          for (const rule of rulesOf(role)) {
            for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames']) {
              assert.ok(!(rule[field] ?? []).includes('*'), `${role.metadata.name}: ${field} *`);
            }
          }
        }
      });

      it('gives the bastion a Role in each app namespace with exactly its rules, no Secrets', () => {
        const namespaces = appNamespaces(objects);
        assert.ok(namespaces.length >= 1);
        const bindings = bindingsOf(objects, SA.bastion);
        assert.deepEqual(bindings.map((b) => b.metadata.namespace).sort(), [...namespaces].sort());
        // Only the production set switches bastion.portForwarding.enabled on (default: off).
        const forwarding = set.name.includes('production');
        for (const binding of bindings) {
          assert.equal(binding.kind, 'RoleBinding');
          const rules = rulesOf(roleFor(objects, binding));
          assert.deepEqual(
            rules.map((r) => [r.apiGroups, r.resources, [...r.verbs].sort()]),
            [
              [[''], ['pods'], ['get', 'list', 'watch']],
              [[''], ['pods/exec'], ['create', 'get']],
              [[''], ['pods'], ['create', 'delete', 'patch']],
              [['apps'], ['deployments'], ['get', 'list']],
              ...(forwarding ? [[[''], ['pods/portforward'], ['create', 'get']]] : []),
            ],
          );
          for (const rule of rules) assert.ok(!rule.resources.includes('secrets'));
        }
      });

      it('gives the keys-service logs, config vars, restarts and its store, nothing more', () => {
        const bindings = bindingsOf(objects, SA.keysService);
        const namespaces = appNamespaces(objects);
        const store = `${NAMESPACE}-store`;
        // Nothing in the release namespace: the CA, the host key and Helm's Secrets live there.
        assert.deepEqual(
          bindings.map((b) => b.metadata.namespace).sort(),
          [...namespaces, store].sort(),
        );
        const storeNs = byKind(objects, 'Namespace').find((n) => n.metadata.name === store);
        assert.ok(storeNs, 'the store namespace is rendered');
        assert.equal(storeNs.metadata.annotations!['helm.sh/resource-policy'], 'keep');
        for (const binding of bindings) {
          const rules = rulesOf(roleFor(objects, binding));
          if (binding.metadata.namespace === store) {
            assert.deepEqual(rules.length, 1);
            assert.deepEqual(rules[0].resources, ['secrets']);
            continue;
          }
          const byResource = (res: string) => rules.filter((r) => r.resources.includes(res));
          assert.deepEqual(
            byResource('pods/log').map((r) => r.verbs),
            [['get']],
          );
          assert.deepEqual(
            byResource('pods').map((r) => r.verbs),
            [['get', 'list', 'watch']],
          );
          assert.deepEqual(
            byResource('deployments').map((r) => [r.apiGroups, r.verbs]),
            [[['apps'], ['get', 'list', 'patch']]],
          );
          const secretRules = byResource('secrets');
          const update = secretRules.find((r) => r.verbs.includes('update'));
          if (!set.name.includes('production')) {
            // Shared mode with no configSecretNames: no Secret at all (never unpinned).
            assert.equal(update, undefined, JSON.stringify(secretRules));
          } else {
            assert.deepEqual(update.verbs, ['get', 'update', 'patch']);
            // per-app namespaces: pinned to the derived or listed config Secret names.
            assert.ok(update.resourceNames?.length > 0, `${binding.metadata.namespace} pinned`);
          }
          // create, if granted at all, stands alone: it cannot carry resourceNames.
          for (const r of secretRules.filter((x) => x.verbs.includes('create'))) {
            assert.deepEqual(r.verbs, ['create']);
            assert.equal(r.resourceNames, undefined);
          }
          const all = rules.flatMap((r) => r.resources as string[]);
          assert.deepEqual([...new Set(all)].filter((r) => r !== 'secrets').sort(), [
            'deployments',
            'pods',
            'pods/log',
          ]);
        }
      });

      it('puts every container under the restricted security profile with requests and limits', () => {
        const pods = podSpecs(objects);
        assert.ok(pods.length >= 2);
        for (const { owner, spec } of pods) {
          const where = `${owner.kind}/${owner.metadata.name}`;
          assert.equal(spec.securityContext?.runAsNonRoot, true, where);
          assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, where);
          for (const v of (spec.volumes ?? []) as Json[])
            assert.equal(v.hostPath, undefined, where);
          const containers = [...spec.containers, ...(spec.initContainers ?? [])] as Json[];
          for (const c of containers) {
            const sc = c.securityContext ?? {};
            const at = `${where}/${c.name}`;
            assert.equal(sc.runAsNonRoot, true, at);
            assert.ok(sc.runAsUser > 0, at);
            assert.equal(sc.privileged, false, at);
            assert.equal(sc.allowPrivilegeEscalation, false, at);
            assert.equal(sc.readOnlyRootFilesystem, true, at);
            assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, at);
            assert.equal(
              (sc.seccompProfile ?? spec.securityContext.seccompProfile)?.type,
              'RuntimeDefault',
              at,
            );
            for (const kind of ['requests', 'limits']) {
              assert.ok(c.resources?.[kind]?.cpu && c.resources?.[kind]?.memory, `${at} ${kind}`);
            }
            // A read-only root needs somewhere to write.
            assert.ok(
              (c.volumeMounts as Json[]).some((m) => m.mountPath === '/tmp'),
              `${at} has a writable /tmp`,
            );
          }
        }
      });

      it('mounts service account tokens only into pods that call the API server', () => {
        for (const sa of byKind(objects, 'ServiceAccount')) {
          assert.equal((sa as Json).automountServiceAccountToken, false, sa.metadata.name);
        }
        for (const { owner, spec } of podSpecs(objects)) {
          assert.equal(spec.automountServiceAccountToken, true, owner.metadata.name);
          assert.ok(
            [SA.bastion, SA.keysService, SA.bootstrap].includes(spec.serviceAccountName),
            owner.metadata.name,
          );
        }
      });

      it('mounts the CA private keys into the keys-service and nowhere else', () => {
        const keys = deployment(objects, 'keys-service');
        const caVolume = (keys.spec.template.spec.volumes as Json[]).find((v) => v.name === 'ca');
        const caSecret = caVolume.secret.secretName as string;
        const mounts = keys.spec.template.spec.containers[0].volumeMounts as Json[];
        assert.ok(mounts.some((m) => m.name === 'ca' && m.readOnly === true));
        for (const { owner, spec } of podSpecs(objects)) {
          const refs = ((spec.volumes ?? []) as Json[]).filter(
            (v) =>
              v.secret?.secretName === caSecret ||
              (v.projected?.sources ?? []).some((s: Json) => s.secret?.name === caSecret),
          );
          const env = (spec.containers as Json[]).flatMap((c) => [
            ...((c.env ?? []) as Json[]).filter(
              (e) => e.valueFrom?.secretKeyRef?.name === caSecret,
            ),
            ...((c.envFrom ?? []) as Json[]).filter((e) => e.secretRef?.name === caSecret),
          ]);
          if (owner === keys) assert.equal(refs.length, 1);
          else assert.equal(refs.length + env.length, 0, `${owner.kind}/${owner.metadata.name}`);
        }
        // The bastion gets at most the keys-service's TLS CA certificate and the recording
        // key's private item (it signs recordings), never a CA key.
        const bastion = deployment(objects, 'bastion');
        for (const v of bastion.spec.template.spec.volumes as Json[]) {
          if (v.secret && v.name === 'recording-key') {
            assert.deepEqual(v.secret.items, [{ key: 'recording.key', path: 'recording.key' }]);
          } else if (v.secret && v.name !== 'host-key') {
            assert.deepEqual(v.secret.items, [{ key: 'ca.crt', path: 'ca.crt' }]);
          }
        }
      });

      it('mounts the recording private key into the bastion only, the public one into the keys-service only', () => {
        for (const { owner, spec } of podSpecs(objects)) {
          const items = ((spec.volumes ?? []) as Json[])
            .filter((v) => v.name === 'recording-key')
            .flatMap((v) => (v.secret.items as Json[]).map((i) => i.key as string));
          const comp = component(owner);
          if (comp === 'bastion' && items.length > 0) assert.deepEqual(items, ['recording.key']);
          else if (comp === 'keys-service' && items.length > 0)
            assert.deepEqual(items, ['recording.pub']);
          else assert.deepEqual(items, [], `${owner.kind}/${owner.metadata.name}`);
        }
      });

      it("gives the keys-service only the bastion host key's public item, read-only", () => {
        const bastion = deployment(objects, 'bastion');
        const hostKeySecret = (bastion.spec.template.spec.volumes as Json[]).find(
          (v) => v.name === 'host-key',
        ).secret.secretName as string;
        const keys = deployment(objects, 'keys-service');
        const refs = (keys.spec.template.spec.volumes as Json[]).filter(
          (v) =>
            v.secret?.secretName === hostKeySecret ||
            (v.projected?.sources ?? []).some((s: Json) => s.secret?.name === hostKeySecret),
        );
        assert.equal(refs.length, 1);
        assert.deepEqual(refs[0].secret.items, [
          { key: 'ssh_host_ed25519_key.pub', path: 'ssh_host_ed25519_key.pub' },
        ]);
        const container = keys.spec.template.spec.containers[0];
        const mounts = (container.volumeMounts as Json[]).filter((m) => m.name === refs[0].name);
        assert.equal(mounts.length, 1);
        assert.equal(mounts[0].readOnly, true);
        assert.equal(mounts[0].subPath, undefined);
        assert.equal(
          serverConfig(objects, 'keys-service').bastion.pinnedHostKeyFile,
          `${mounts[0].mountPath}/ssh_host_ed25519_key.pub`,
        );
        const env = [...(container.env ?? []), ...(container.envFrom ?? [])] as Json[];
        assert.ok(
          !env.some(
            (e) =>
              e.valueFrom?.secretKeyRef?.name === hostKeySecret ||
              e.secretRef?.name === hostKeySecret,
          ),
        );
      });

      it('exposes the bastion on one LoadBalancer-style Service, port 22 to its unprivileged port', () => {
        const bastion = deployment(objects, 'bastion');
        const container = bastion.spec.template.spec.containers[0];
        const sshPort = containerPort(container, 'ssh');
        assert.ok(sshPort >= 1024);
        const services = byKind(objects, 'Service').filter(
          (s) =>
            component(s) === 'bastion' &&
            ((s as Json).spec.ports as Json[]).some((p) => p.targetPort === 'ssh'),
        );
        assert.equal(services.length, 1, 'exactly one Service reaches the SSH port');
        const svc = services[0] as Json;
        assert.deepEqual(
          svc.spec.ports.map((p: Json) => [p.port, p.targetPort]),
          [[22, 'ssh']],
        );
        assert.ok(selects(svc.spec.selector, bastion.spec.template.metadata.labels));
        if (set.name === 'defaults') assert.equal(svc.spec.type, 'LoadBalancer');
        if (svc.spec.type !== 'ClusterIP') {
          assert.ok(['Cluster', 'Local'].includes(svc.spec.externalTrafficPolicy));
        }
        // The metrics port is never on the public Service.
        const metrics = byKind(objects, 'Service').filter((s) =>
          ((s as Json).spec.ports as Json[]).some((p) => p.targetPort === 'metrics'),
        );
        for (const m of metrics) assert.equal((m as Json).spec.type, 'ClusterIP');
      });

      it('keeps the bastion available: replicas, anti-affinity, PDB, drain-aware termination', () => {
        const bastion = deployment(objects, 'bastion');
        const pod = bastion.spec.template.spec;
        const labels = bastion.spec.template.metadata.labels;
        const hpa = byKind(objects, 'HorizontalPodAutoscaler');
        if (hpa.length > 0) {
          assert.equal(bastion.spec.replicas, undefined, 'the HPA owns replicas');
          assert.equal((hpa[0] as Json).spec.scaleTargetRef.name, bastion.metadata.name);
          assert.ok((hpa[0] as Json).spec.minReplicas >= 2);
        } else {
          assert.ok(bastion.spec.replicas >= 2);
        }
        const anti = pod.affinity.podAntiAffinity;
        const term =
          anti.requiredDuringSchedulingIgnoredDuringExecution?.[0] ??
          anti.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
        assert.equal(term.topologyKey, 'kubernetes.io/hostname');
        assert.ok(selects(term.labelSelector.matchLabels, labels));
        const pdbs = byKind(objects, 'PodDisruptionBudget').filter((p) =>
          selects((p as Json).spec.selector.matchLabels, labels),
        );
        assert.equal(pdbs.length, 1);
        assert.equal((pdbs[0] as Json).spec.maxUnavailable, 1);

        const container = pod.containers[0];
        assert.equal(container.readinessProbe.httpGet.path, '/readyz');
        assert.equal(container.readinessProbe.httpGet.port, 'metrics');
        assert.equal(container.livenessProbe.httpGet.path, '/healthz');
        const preStop = container.lifecycle.preStop.sleep.seconds as number;
        const config = serverConfig(objects, 'bastion');
        const drainSeconds = config.drain.timeoutMs / 1000;
        assert.ok(
          pod.terminationGracePeriodSeconds > preStop + drainSeconds,
          `grace ${pod.terminationGracePeriodSeconds} > preStop ${preStop} + drain ${drainSeconds}`,
        );
        assert.equal(bastion.spec.strategy.rollingUpdate.maxUnavailable, 0);
      });

      it('makes the CA and host key once, in pre-install hooks with their own narrow Role', () => {
        const hooks = objects.filter((o) => o.metadata.annotations?.['helm.sh/hook']);
        const job = byKind(objects, 'Job');
        const keysDeploy = deployment(objects, 'keys-service');
        const caSecret = (keysDeploy.spec.template.spec.volumes as Json[]).find(
          (v) => v.name === 'ca',
        ).secret.secretName;
        if (job.length === 0) {
          assert.deepEqual(hooks, [], 'no hook when both Secrets are supplied');
          return;
        }
        assert.deepEqual(hooks.map((h) => h.kind).sort(), [
          'ConfigMap',
          'Job',
          'Role',
          'RoleBinding',
          'ServiceAccount',
        ]);
        for (const h of hooks) {
          assert.equal(h.metadata.annotations!['helm.sh/hook'], 'pre-install', h.kind);
          assert.match(h.metadata.annotations!['helm.sh/hook-delete-policy']!, /hook-succeeded/);
        }
        const weight = (o: K8sObject) => Number(o.metadata.annotations!['helm.sh/hook-weight']);
        for (const h of hooks) if (h.kind !== 'Job') assert.ok(weight(h) < weight(job[0]!));
        const env = Object.fromEntries(
          ((job[0] as Json).spec.template.spec.containers[0].env as Json[]).map((e) => [
            e.name,
            e.value,
          ]),
        );
        assert.equal(env.CA_SECRET, caSecret);
        const hostKeySecret = (
          deployment(objects, 'bastion').spec.template.spec.volumes as Json[]
        ).find((v) => v.name === 'host-key').secret.secretName;
        assert.equal(env.HOST_KEY_SECRET, hostKeySecret);
        const role = hooks.find((h) => h.kind === 'Role')!;
        assert.deepEqual(rulesOf(role), [
          {
            apiGroups: [''],
            resources: ['secrets'],
            resourceNames: [caSecret, hostKeySecret],
            verbs: ['get'],
          },
          { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        ]);
        const script = (hooks.find((h) => h.kind === 'ConfigMap') as Json).data['bootstrap.mjs'];
        assert.match(script, /ca', 'init'/);
      });

      it('limits network paths with NetworkPolicies', () => {
        const policies = byKind(objects, 'NetworkPolicy');
        if (set.name.includes('autoscaling')) {
          assert.deepEqual(policies, []);
          return;
        }
        const bastionLabels = deployment(objects, 'bastion').spec.template.metadata.labels;
        const keys = deployment(objects, 'keys-service');
        const keysLabels = keys.spec.template.metadata.labels;
        const keysPort = containerPort(keys.spec.template.spec.containers[0], 'http');
        const forPods = (labels: Record<string, string>) =>
          policies.filter((p) => selects((p as Json).spec.podSelector.matchLabels, labels));

        const [bastionPolicy] = forPods(bastionLabels) as Json[];
        assert.deepEqual(bastionPolicy.spec.policyTypes, ['Ingress', 'Egress']);
        const egress = bastionPolicy.spec.egress as Json[];
        for (const rule of egress) {
          assert.ok(rule.to?.length > 0 && rule.ports?.length > 0, 'no open-ended egress');
        }
        const egressPorts = egress.flatMap((r) => r.ports.map((p: Json) => p.port)).sort();
        assert.deepEqual(egressPorts, [443, 53, 53, 6443, keysPort].sort());
        const toKeys = egress.find((r) =>
          r.to.some((t: Json) => t.podSelector?.matchLabels && !t.namespaceSelector),
        );
        assert.deepEqual(toKeys.to[0].podSelector.matchLabels, {
          'app.kubernetes.io/name': keysLabels['app.kubernetes.io/name'],
          'app.kubernetes.io/instance': keysLabels['app.kubernetes.io/instance'],
          'app.kubernetes.io/component': 'keys-service',
        });

        const [keysPolicy] = forPods(keysLabels) as Json[];
        assert.deepEqual(keysPolicy.spec.policyTypes, ['Ingress', 'Egress']);
        const ingress = keysPolicy.spec.ingress as Json[];
        // The API port for the ingress controller and the bastions; Prometheus (when a selector
        // is set) on the metrics port only.
        assert.ok(ingress.length === 1 || ingress.length === 2);
        for (const rule of ingress.slice(1)) {
          assert.deepEqual(rule.ports, [{ protocol: 'TCP', port: 9103 }]);
          assert.ok(rule.from.every((f: Json) => f.namespaceSelector && !f.podSelector));
        }
        const from = ingress[0].from as Json[];
        assert.ok(
          from.some(
            (f) =>
              f.namespaceSelector && !f.podSelector?.matchLabels?.['app.kubernetes.io/component'],
          ),
        );
        assert.ok(
          from.some(
            (f) => f.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'bastion',
          ),
        );
        assert.deepEqual(ingress[0].ports, [{ protocol: 'TCP', port: keysPort }]);
        for (const rule of keysPolicy.spec.egress as Json[]) assert.ok(rule.to?.length > 0);
      });

      it('guards console pods with a ValidatingAdmissionPolicy bound to the app namespaces', () => {
        const policies = byKind(objects, 'ValidatingAdmissionPolicy') as Json[];
        // Two for the bastion's console pods, one for the keys-service's Deployment restarts.
        assert.equal(policies.length, 3);
        const bindings = byKind(objects, 'ValidatingAdmissionPolicyBinding') as Json[];
        const namespaces = appNamespaces(objects);
        const keysUser = `system:serviceaccount:${NAMESPACE}:${SA.keysService}`;
        for (const policy of policies) {
          assert.equal(policy.apiVersion, 'admissionregistration.k8s.io/v1');
          assert.equal(policy.spec.failurePolicy, 'Fail');
          const user = policy.metadata.name.endsWith('-deployment-restart')
            ? keysUser
            : BASTION_USER;
          assert.deepEqual(
            policy.spec.matchConditions.map((m: Json) => m.expression),
            [`request.userInfo.username == "${user}"`],
          );
          const binding = bindings.find((b) => b.spec.policyName === policy.metadata.name);
          assert.ok(binding, `binding of ${policy.metadata.name}`);
          assert.deepEqual(binding.spec.validationActions, ['Deny']);
          assert.deepEqual(
            binding.spec.matchResources.namespaceSelector.matchExpressions[0].values,
            namespaces,
          );
        }
        const create = policies.find(
          (p) => p.spec.matchConstraints.resourceRules[0].operations[0] === 'CREATE',
        );
        const binding = bindings.find((b) => b.spec.policyName === create.metadata.name);
        assert.equal(binding.spec.paramRef.parameterNotFoundAction, 'Deny');
        assert.equal(
          binding.spec.paramRef.namespace,
          undefined,
          'params come from the pod namespace',
        );
        for (const ns of namespaces) {
          const params = objects.find(
            (o) =>
              o.kind === 'ConfigMap' &&
              o.metadata.name === binding.spec.paramRef.name &&
              o.metadata.namespace === ns,
          );
          assert.ok(params, `image parameters in ${ns}`);
        }
      });

      it('labels app namespaces for Pod Security only when asked, and keeps them on uninstall', () => {
        const namespaces = byKind(objects, 'Namespace').filter(
          (n) => n.metadata.name !== `${NAMESPACE}-store`,
        );
        if (!set.name.includes('production')) {
          assert.deepEqual(namespaces, []);
          return;
        }
        assert.deepEqual(
          namespaces.map((n) => n.metadata.name).sort(),
          appNamespaces(objects).sort(),
        );
        for (const ns of namespaces) {
          assert.equal(ns.metadata.labels!['pod-security.kubernetes.io/enforce'], 'restricted');
          assert.equal(ns.metadata.annotations!['helm.sh/resource-policy'], 'keep');
        }
      });
    });
  }
});
