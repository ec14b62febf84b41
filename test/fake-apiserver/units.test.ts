import assert from 'node:assert/strict';
import { parseFieldSelector, parseLabelSelector } from '../support/fake-apiserver/selectors.js';
import { jsonPatch, mergePatch, strategicMergePatch } from '../support/fake-apiserver/patch.js';
import {
  RbacAuthorizer,
  forbiddenFor,
  rbacObjectsFromYaml,
  type RequestAttributes,
} from '../support/fake-apiserver/rbac.js';
import { ObjectStore } from '../support/fake-apiserver/store.js';
import { resourceByKey, resourceForObject } from '../support/fake-apiserver/resources.js';
import { humanDuration } from '../support/fake-apiserver/table.js';
import { StatusError } from '../support/fake-apiserver/status.js';
import { RBAC_YAML } from './rbac-fixture.js';

describe('fake API server: selectors, patches, RBAC', () => {
  it('label selectors: =, ==, !=, in, notin, exists, !exists', () => {
    const l = { app: 'web', tier: 'front' };
    const m = (s: string): boolean => parseLabelSelector(s).matches(l);
    assert.ok(m('app=web') && m('app==web') && m('app!=api') && m('missing!=x'));
    assert.ok(m('app in (api, web)') && !m('app notin (web)') && m('tier notin (back)'));
    assert.ok(m('app') && !m('!app') && m('!missing') && !m('missing'));
    assert.ok(m('app=web,tier in (front),!x') && !m('app=web,tier=back'));
    assert.ok(parseLabelSelector('').matches(undefined));
    assert.throws(
      () => parseLabelSelector('a b c'),
      (e: unknown) => e instanceof StatusError && e.code === 400,
    );
  });

  it('field selectors: metadata.name, metadata.namespace, status.phase; unknown fields are 400', () => {
    const pod = { metadata: { name: 'p', namespace: 'n' }, status: { phase: 'Running' } };
    assert.ok(parseFieldSelector('metadata.name=p,metadata.namespace==n', 'pods').matches(pod));
    assert.ok(!parseFieldSelector('status.phase!=Running', 'pods').matches(pod));
    assert.equal(parseFieldSelector('metadata.name=p', 'pods').pinnedName, 'p');
    assert.throws(
      () => parseFieldSelector('spec.foo=1', 'pods'),
      /field label not supported: spec.foo/,
    );
    assert.throws(
      () => parseFieldSelector('status.phase=Running', 'secrets'),
      /field label not supported/,
    );
  });

  it('merge, strategic merge and JSON patches', () => {
    const dep = {
      metadata: { labels: { a: '1', b: '2' } },
      spec: {
        template: {
          metadata: { annotations: { x: '1' } },
          spec: {
            containers: [
              { name: 'web', image: 'a', env: [{ name: 'A', value: '1' }] },
              { name: 'side', image: 's' },
            ],
          },
        },
      },
    };
    assert.deepEqual(mergePatch(dep.metadata, { labels: { a: null, c: '3' } }), {
      labels: { b: '2', c: '3' },
    });
    const smp = strategicMergePatch(dep, {
      spec: {
        template: {
          metadata: { annotations: { y: '2' } },
          spec: {
            containers: [
              { name: 'web', env: [{ name: 'B', value: '2' }] },
              { name: 'side', $patch: 'delete' },
            ],
          },
        },
      },
    }) as typeof dep;
    assert.deepEqual(smp.spec.template.metadata.annotations, { x: '1', y: '2' });
    assert.deepEqual(smp.spec.template.spec.containers, [
      {
        name: 'web',
        image: 'a',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
    ]);
    // A merge patch replaces lists whole.
    const mp = mergePatch(dep, {
      spec: { template: { spec: { containers: [{ name: 'only' }] } } },
    }) as typeof dep;
    assert.deepEqual(mp.spec.template.spec.containers, [{ name: 'only' }]);
    assert.deepEqual(
      strategicMergePatch({ data: { a: '1' } }, { data: { $patch: 'replace', b: '2' } }),
      { data: { b: '2' } },
    );
    assert.deepEqual(
      jsonPatch({ data: { a: '1' } }, [
        { op: 'add', path: '/data/b', value: '2' },
        { op: 'remove', path: '/data/a' },
      ]),
      { data: { b: '2' } },
    );
    assert.throws(
      () => jsonPatch({}, [{ op: 'test', path: '/x', value: 1 }]),
      (e: unknown) => e instanceof StatusError && e.code === 400,
    );
  });

  it('RBAC: bindings, ClusterRole via RoleBinding, resourceNames, subresources, wildcard verbs, 403 messages', () => {
    const store = new ObjectStore(100);
    for (const obj of rbacObjectsFromYaml(RBAC_YAML)) {
      const info = resourceForObject(obj.apiVersion, obj.kind)!;
      store.create(info, {
        ...obj,
        metadata: { ...obj.metadata, ...(info.namespaced ? {} : { namespace: undefined }) },
      });
    }
    assert.equal(
      store.list(resourceByKey('deployments.apps'), undefined).length,
      0,
      'non-RBAC kinds are skipped',
    );
    const rbac = new RbacAuthorizer(store);
    const sa = {
      username: 'system:serviceaccount:app-a:bastion',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:app-a', 'system:authenticated'],
    };
    const attrs = (over: Partial<RequestAttributes>): RequestAttributes => ({
      user: sa,
      verb: 'get',
      resourceRequest: true,
      namespace: 'app-a',
      apiGroup: '',
      resource: 'pods',
      subresource: '',
      name: '',
      path: '',
      ...over,
    });
    const allowed = (over: Partial<RequestAttributes>): boolean =>
      rbac.authorize(attrs(over)).allowed;
    assert.ok(allowed({ verb: 'list' }));
    assert.ok(allowed({ verb: 'create', subresource: 'exec', name: 'p' }));
    assert.ok(!allowed({ verb: 'create', name: 'p' }), 'pods/exec does not grant pods');
    assert.ok(!allowed({ verb: 'get', resource: 'secrets', name: 's' }));
    assert.ok(!allowed({ namespace: 'app-c' }));
    assert.ok(allowed({ namespace: 'app-b', resource: 'secrets', name: 'app-b-config' }));
    assert.ok(!allowed({ namespace: 'app-b', resource: 'secrets', name: 'other' }));
    assert.ok(
      !allowed({ namespace: 'app-b', verb: 'list', resource: 'secrets' }),
      'resourceNames never allow an unnamed list',
    );
    assert.ok(
      allowed({
        namespace: 'app-b',
        verb: 'deletecollection',
        apiGroup: 'apps',
        resource: 'deployments',
      }),
      'verb *',
    );
    assert.ok(
      !allowed({ namespace: 'app-b', verb: 'delete', apiGroup: '', resource: 'deployments' }),
      'apiGroup must match',
    );
    assert.ok(!allowed({ namespace: '', verb: 'list', resource: 'namespaces' }));
    assert.ok(allowed({ resourceRequest: false, path: '/version' }));
    assert.ok(
      rbac.authorize(
        attrs({ user: { username: 'root', groups: ['system:masters'] }, resource: 'secrets' }),
      ).allowed,
    );
    assert.match(
      rbac.authorize(attrs({ verb: 'list' })).reason,
      /RoleBinding "bastion-exec\/app-a" of Role "bastion-exec" to ServiceAccount "bastion\/app-a"/,
    );

    const err = forbiddenFor(
      attrs({ verb: 'create', subresource: 'exec', name: 'p', namespace: 'app-b' }),
      resourceByKey('pods'),
    );
    assert.deepEqual(err.status, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'pods "p" is forbidden: User "system:serviceaccount:app-a:bastion" cannot create resource "pods/exec" in API group "" in the namespace "app-b"',
      reason: 'Forbidden',
      details: { name: 'p', kind: 'pods' },
      code: 403,
    });
    assert.equal(
      forbiddenFor(
        attrs({ verb: 'list', resource: 'namespaces', namespace: '' }),
        resourceByKey('namespaces'),
      ).message,
      'namespaces is forbidden: User "system:serviceaccount:app-a:bastion" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
  });

  it('store: resourceVersion conflicts and watch history expiry', () => {
    const store = new ObjectStore(3);
    const cm = resourceByKey('configmaps');
    const a = store.create(cm, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a', namespace: 'n' },
    });
    const b = store.update(cm, { ...a, data: { x: '1' } });
    assert.ok(Number(b.metadata?.resourceVersion) > Number(a.metadata?.resourceVersion));
    assert.throws(
      () => store.update(cm, { ...a, data: { x: '2' } }),
      (e: unknown) => e instanceof StatusError && e.code === 409 && e.status.reason === 'Conflict',
    );
    for (let i = 0; i < 5; i++)
      store.update(cm, { ...store.get(cm, 'n', 'a')!, data: { i: String(i) } });
    assert.throws(
      () =>
        store.watch(
          { key: 'configmaps', namespace: undefined, matches: () => true },
          Number(a.metadata?.resourceVersion),
          () => undefined,
        ),
      (e: unknown) => e instanceof StatusError && e.code === 410,
    );
  });

  it('ages print as kubectl prints them', () => {
    assert.equal(humanDuration(5_000), '5s');
    assert.equal(humanDuration(119_000), '119s');
    assert.equal(humanDuration(150_000), '2m30s');
    assert.equal(humanDuration(3 * 3600_000 + 5 * 60_000), '3h5m');
    assert.equal(humanDuration(50 * 3600_000), '2d2h');
  });
});
