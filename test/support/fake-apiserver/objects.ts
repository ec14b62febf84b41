import { pendingStatus, type Kubelet } from './kubelet.js';
import type { Route } from './routing.js';
import { resourceByKey, resourceKey, type ResourceInfo } from './resources.js';
import { badRequest, conflict, forbidden, notFound, STALE_OBJECT } from './status.js';
import type { ObjectStore } from './store.js';
import type { KubeObject } from './types.js';
import { defaultAndValidate, prepareIncoming } from './validation.js';
import type { Rec } from './json.js';

const NAMESPACES = resourceByKey('namespaces');
const SERVICEACCOUNTS = resourceByKey('serviceaccounts');

/**
 * Write semantics of the REST verbs on top of the store: defaults and validation, namespace
 * checks, status kept apart from spec, generation, graceful pod deletion and namespace
 * finalization, as the real registry and controllers behave.
 */
export class ObjectWriter {
  constructor(
    private readonly store: ObjectStore,
    private readonly kubelet: Kubelet,
  ) {}

  /**
   * Creates an object as the API would (also used by the test hooks, bypassing RBAC and
   * admission). `admit` runs validating admission on the defaulted object; it throws to refuse.
   */
  create(
    info: ResourceInfo,
    namespace: string,
    body: KubeObject,
    dryRun = false,
    admit?: (object: KubeObject) => void,
  ): KubeObject {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('the request body must be an object');
    prepareIncoming(info, body);
    const meta = body.metadata ?? {};
    if (info.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = namespace || meta.namespace || 'default';
      const ns = this.store.get(NAMESPACES, '', meta.namespace);
      if (!ns) throw notFound(NAMESPACES, meta.namespace);
      if (ns.metadata?.deletionTimestamp) {
        throw forbidden(
          `${resourceKey(info)} "${meta.name ?? ''}" is forbidden: unable to create new content in namespace ${meta.namespace} because it is being terminated`,
          info,
          meta.name,
        );
      }
    } else delete meta.namespace;
    body.metadata = meta;
    defaultAndValidate(info, body, true);
    if (info.kind === 'Pod') body.status = pendingStatus(body);
    admit?.(body);
    if (dryRun) return body;
    const created = this.store.create(info, body);
    if (info.kind === 'Namespace' && !this.store.get(SERVICEACCOUNTS, meta.name ?? '', 'default')) {
      // The service account controller's job on a real cluster.
      this.store.create(SERVICEACCOUNTS, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default', namespace: meta.name ?? '' },
      });
    }
    return created;
  }

  update(
    route: Route,
    body: KubeObject,
    dryRun: boolean,
    admit?: (object: KubeObject, oldObject: KubeObject) => void,
  ): KubeObject {
    const { info } = route;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('the request body must be an object');
    prepareIncoming(info, body);
    const meta = (body.metadata ??= {});
    if (meta.name !== route.name) {
      throw badRequest(
        `the name of the object (${meta.name ?? ''}) does not match the name on the URL (${route.name})`,
      );
    }
    if (info.namespaced) {
      if (meta.namespace && meta.namespace !== route.namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      meta.namespace = route.namespace;
    }
    const current = this.store.mustGet(info, route.namespace, route.name);
    let next: KubeObject;
    if (route.subresource === 'status') {
      next = {
        ...current,
        status: body.status,
        metadata: { ...current.metadata, resourceVersion: meta.resourceVersion },
      };
    } else {
      next = body;
      // The main resource cannot change status (it has its own subresource), as on a cluster.
      if (info.kind === 'Pod' || info.kind === 'Deployment' || info.kind === 'Namespace')
        next.status = current.status;
      defaultAndValidate(info, next, false);
    }
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(current.spec);
    admit?.(next, current);
    if (dryRun) return next;
    return this.store.update(info, next, {
      bumpGeneration: specChanged && route.subresource === '',
    });
  }

  delete(
    route: Route,
    grace: number | undefined,
    rv: string | undefined,
    dryRun: boolean,
    admit?: (oldObject: KubeObject) => void,
  ): unknown {
    const { info } = route;
    const current = this.store.mustGet(info, route.namespace, route.name);
    if (rv && rv !== current.metadata?.resourceVersion)
      throw conflict(info, route.name, STALE_OBJECT);
    admit?.(current);
    if (dryRun) return current;
    if (info.kind === 'Pod') {
      const phase = (current.status as Rec | undefined)?.phase;
      const running = phase === 'Running' || phase === 'Pending';
      const specGrace = Number(
        (current.spec as Rec | undefined)?.terminationGracePeriodSeconds ?? 30,
      );
      const g = grace ?? specGrace;
      if (g > 0 && running) return this.kubelet.beginDeletion(route.namespace, route.name, g);
      return this.store.delete(info, route.namespace, route.name);
    }
    if (info.kind === 'Namespace') return this.deleteNamespace(route.name);
    const deleted = this.store.delete(info, route.namespace, route.name);
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: {
        name: route.name,
        ...(info.group ? { group: info.group } : {}),
        kind: info.plural,
        uid: deleted.metadata?.uid,
      },
    };
  }

  /** Terminating at once, then the namespace controller's job: contents first, then itself. */
  private deleteNamespace(name: string): KubeObject {
    const ns = this.store.mustGet(NAMESPACES, '', name);
    if (ns.metadata?.deletionTimestamp) return ns;
    ns.metadata = {
      ...ns.metadata,
      deletionTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    ns.status = { phase: 'Terminating' };
    const updated = this.store.update(NAMESPACES, ns);
    setTimeout(() => {
      for (const key of [
        'pods',
        'deployments.apps',
        'secrets',
        'configmaps',
        'events',
        'serviceaccounts',
        'roles.rbac.authorization.k8s.io',
        'rolebindings.rbac.authorization.k8s.io',
      ]) {
        const info = resourceByKey(key);
        for (const obj of this.store.list(info, name)) {
          try {
            this.store.delete(info, name, obj.metadata?.name ?? '');
          } catch {
            // Already gone.
          }
        }
      }
      try {
        this.store.delete(NAMESPACES, '', name);
      } catch {
        // Already gone.
      }
    }, 20).unref();
    return updated;
  }
}
