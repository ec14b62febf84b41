/**
 * The fake API server's validating admission, on its own: the semantics the chart's policies
 * rely on (binding selectors, matchConditions, lazy variables, failurePolicy, validationActions,
 * `oldObject` on update and delete) and Pod Security on labelled namespaces, through the API.
 */
import assert from 'node:assert/strict';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver/index.js';
import { apiRequest } from '../chart-integration/support.js';

const POLICIES = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: no-evil }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - { apiGroups: [''], apiVersions: [v1], operations: [CREATE, UPDATE, DELETE], resources: [configmaps] }
  matchConditions:
    - { name: not-admin, expression: "request.userInfo.username != 'admin'" }
  variables:
    # Errors on DELETE (object is null): lazy, so only expressions that use it fail.
    - { name: value, expression: "object.data.v" }
  validations:
    - expression: "request.operation == 'DELETE' || variables.value != 'evil'"
      messageExpression: "'value ' + variables.value + ' refused'"
      reason: Forbidden
    - expression: "request.operation != 'DELETE' || oldObject.metadata.name != 'keep'"
      message: keep stays
      reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: no-evil }
spec:
  policyName: no-evil
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { guarded: 'yes' } }
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: broken }
spec:
  failurePolicy: Ignore
  matchConstraints:
    resourceRules:
      - { apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps] }
  validations:
    - expression: "object.nosuchfield.x == 1"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: broken }
spec: { policyName: broken, validationActions: [Deny] }
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: audit-only }
spec:
  matchConstraints:
    resourceRules:
      - { apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps] }
  validations:
    - expression: "false"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: audit-only }
spec: { policyName: audit-only, validationActions: [Audit] }
`;

const RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: all }
rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: dev-all }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: all }
subjects: [{ kind: User, name: dev }]
`;

describe('fake API server: validating admission', function () {
  this.timeout(20_000);
  let fake: FakeApiServer;
  let dev: string;
  const cm = (name: string, v: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name },
    data: { v },
  });

  before(async () => {
    fake = await startFakeApiServer({ rbacYaml: RBAC, admissionYaml: POLICIES });
    dev = fake.addUser('dev');
    for (const [name, labels] of [
      ['guarded', { guarded: 'yes' }],
      ['open', {}],
    ] as const) {
      fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    }
    fake.create({ ...cm('keep', 'x'), metadata: { name: 'keep', namespace: 'guarded' } });
  });
  after(() => fake?.stop());

  const post = (ns: string, body: object, token = dev) =>
    apiRequest(fake, token, 'POST', `/api/v1/namespaces/${ns}/configmaps`, body);

  it('refuses with the policy, binding and evaluated message, as the API server words it', async () => {
    const r = await post('guarded', cm('a', 'evil'));
    assert.equal(r.status, 403, r.text);
    const { message, reason } = JSON.parse(r.text) as { message: string; reason: string };
    assert.equal(reason, 'Forbidden');
    assert.equal(
      message,
      `configmaps "a" is forbidden: ValidatingAdmissionPolicy 'no-evil' with binding 'no-evil' denied request: value evil refused`,
    );
  });

  it('admits what passes, and leaves namespaces the binding does not select alone', async () => {
    assert.equal((await post('guarded', cm('b', 'good'))).status, 201);
    assert.equal((await post('open', cm('c', 'evil'))).status, 201);
  });

  it('skips requests the matchConditions exclude (and the test hooks bypass admission)', async () => {
    assert.equal((await post('guarded', cm('d', 'evil'), fake.tokens.admin)).status, 201);
    fake.create({ ...cm('e', 'evil'), metadata: { name: 'e', namespace: 'guarded' } });
  });

  it('checks updates against the new object and deletes against oldObject', async () => {
    const path = '/api/v1/namespaces/guarded/configmaps';
    const patch = await apiRequest(fake, dev, 'PATCH', `${path}/b`, { data: { v: 'evil' } });
    assert.equal(patch.status, 403, patch.text);
    // A variable that errors (object is null on DELETE) fails only the expressions using it.
    assert.equal((await apiRequest(fake, dev, 'DELETE', `${path}/b`)).status, 200);
    const keep = await apiRequest(fake, dev, 'DELETE', `${path}/keep`);
    assert.equal(keep.status, 403, keep.text);
    assert.match(keep.text, /keep stays/);
  });

  it('enforces Pod Security on labelled namespaces only', async () => {
    fake.create({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'strict', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image: 'x' }] },
    };
    const strict = await apiRequest(fake, dev, 'POST', '/api/v1/namespaces/strict/pods', pod);
    assert.equal(strict.status, 403, strict.text);
    const { message } = JSON.parse(strict.text) as { message: string };
    assert.match(
      message,
      /^pods "p" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false .*runAsNonRoot != true .*seccompProfile/,
    );
    const open = await apiRequest(fake, dev, 'POST', '/api/v1/namespaces/open/pods', pod);
    assert.equal(open.status, 201, open.text);
  });
});
