import { parseAllDocuments } from 'yaml';
import { MASTERS_GROUP } from './auth.js';
import { badRequest, forbidden, type StatusError } from './status.js';
import { str, type Rec } from './json.js';
import { apiVersionOf, resourceByKey, type ResourceInfo } from './resources.js';
import type { ObjectStore } from './store.js';
import type { KubeObject, UserInfo } from './types.js';

/** The attributes the authorizer decides on, as the real API server derives them. */
export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  /** '' for cluster-scoped requests. */
  namespace: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  name: string;
  /** For non-resource requests. */
  path: string;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

/** Paths every authenticated user may read (system:discovery, system:public-info-viewer). */
const DISCOVERY_PATHS = [
  '/api',
  '/api/*',
  '/apis',
  '/apis/*',
  '/version',
  '/version/',
  '/openapi',
  '/openapi/*',
  '/healthz',
  '/livez',
  '/readyz',
];

function pathAllowed(patterns: string[], path: string): boolean {
  return patterns.some(
    (p) => p === '*' || p === path || (p.endsWith('*') && path.startsWith(p.slice(0, -1))),
  );
}

function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  const verbs = rule.verbs ?? [];
  if (!verbs.includes('*') && !verbs.includes(a.verb)) return false;
  if (!a.resourceRequest) return pathAllowed(rule.nonResourceURLs ?? [], a.path);
  const groups = rule.apiGroups ?? [];
  if (!groups.includes('*') && !groups.includes(a.apiGroup)) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resources = rule.resources ?? [];
  const resOk = resources.some(
    (r) =>
      r === '*' ||
      r === combined ||
      (a.subresource !== '' && (r === `${a.resource}/*` || r === `*/${a.subresource}`)),
  );
  if (!resOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== '' && names.includes(a.name));
}

function subjectMatches(s: Subject, user: UserInfo, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.username;
    case 'Group':
      return s.name !== undefined && user.groups.includes(s.name);
    case 'ServiceAccount':
      return (
        user.username === `system:serviceaccount:${s.namespace ?? bindingNamespace}:${s.name ?? ''}`
      );
    default:
      return false;
  }
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  return s.kind === 'ServiceAccount'
    ? `ServiceAccount "${s.name ?? ''}/${s.namespace ?? bindingNamespace}"`
    : `${s.kind ?? ''} "${s.name ?? ''}"`;
}

/**
 * RBAC evaluation over the Roles, ClusterRoles and bindings in the store (read on every
 * request, so tests may change them at any time). `system:masters` bypasses it, as on a cluster.
 */
export class RbacAuthorizer {
  constructor(private readonly store: ObjectStore) {}

  authorize(a: RequestAttributes): Decision {
    if (a.user.groups.includes(MASTERS_GROUP)) return { allowed: true, reason: '' };
    if (!a.resourceRequest && a.verb === 'get' && pathAllowed(DISCOVERY_PATHS, a.path)) {
      return { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:discovery"' };
    }
    if (
      a.resourceRequest &&
      a.verb === 'create' &&
      a.apiGroup === 'authorization.k8s.io' &&
      (a.resource === 'selfsubjectaccessreviews' || a.resource === 'selfsubjectrulesreviews')
    ) {
      return { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "system:basic-user"' };
    }
    const rbac = (plural: string): ResourceInfo =>
      resourceByKey(`${plural}.rbac.authorization.k8s.io`);
    const clusterRoles = new Map(
      this.store.list(rbac('clusterroles'), undefined).map((r) => [r.metadata?.name ?? '', r]),
    );
    const rulesOf = (obj: KubeObject | undefined): PolicyRule[] =>
      (obj?.rules as PolicyRule[] | undefined) ?? [];

    for (const b of this.store.list(rbac('clusterrolebindings'), undefined)) {
      const ref = b.roleRef as { kind?: string; name?: string } | undefined;
      const subject = ((b.subjects as Subject[] | undefined) ?? []).find((s) =>
        subjectMatches(s, a.user, ''),
      );
      if (!subject || ref?.kind !== 'ClusterRole') continue;
      if (rulesOf(clusterRoles.get(ref.name ?? '')).some((r) => ruleAllows(r, a))) {
        return {
          allowed: true,
          reason: `RBAC: allowed by ClusterRoleBinding "${b.metadata?.name ?? ''}" of ClusterRole "${ref.name ?? ''}" to ${describeSubject(subject, '')}`,
        };
      }
    }
    if (a.namespace && a.resourceRequest) {
      for (const b of this.store.list(rbac('rolebindings'), a.namespace)) {
        const ref = b.roleRef as { kind?: string; name?: string } | undefined;
        const subject = ((b.subjects as Subject[] | undefined) ?? []).find((s) =>
          subjectMatches(s, a.user, a.namespace),
        );
        if (!subject || !ref) continue;
        const role =
          ref.kind === 'ClusterRole'
            ? clusterRoles.get(ref.name ?? '')
            : this.store.get(rbac('roles'), a.namespace, ref.name ?? '');
        if (rulesOf(role).some((r) => ruleAllows(r, a))) {
          return {
            allowed: true,
            reason: `RBAC: allowed by RoleBinding "${b.metadata?.name ?? ''}/${a.namespace}" of ${ref.kind ?? ''} "${ref.name ?? ''}" to ${describeSubject(subject, a.namespace)}`,
          };
        }
      }
    }
    return { allowed: false, reason: '' };
  }
}

/** The 403 the real API server returns for a denied request. */
export function forbiddenFor(a: RequestAttributes, info: ResourceInfo | undefined): StatusError {
  if (!a.resourceRequest) {
    return forbidden(`forbidden: User "${a.user.username}" cannot ${a.verb} path "${a.path}"`);
  }
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  const why = `User "${a.user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${scope}`;
  const gr = { group: a.apiGroup, plural: a.resource };
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const subject = a.name ? `${qualified} "${a.name}"` : qualified;
  return forbidden(`${subject} is forbidden: ${why}`, info ?? gr, a.name || undefined);
}

const RBAC_KINDS = new Set([
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ServiceAccount',
  'Namespace',
]);

/**
 * The RBAC objects (and the ServiceAccounts and Namespaces they name) in a multi-document YAML
 * such as `helm template` output; every other kind is skipped, so a whole rendered chart can
 * be fed in.
 */
export function rbacObjectsFromYaml(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  const visit = (doc: unknown): void => {
    if (typeof doc !== 'object' || doc === null) return;
    const obj = doc as KubeObject;
    if (obj.kind === 'List' && Array.isArray(obj.items)) {
      for (const item of obj.items) visit(item);
      return;
    }
    if (obj.kind && RBAC_KINDS.has(obj.kind)) out.push(obj);
  };
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length > 0) throw new Error(`rbac yaml: ${d.errors[0]!.message}`);
    visit(d.toJS());
  }
  return out;
}

/** Answers a (Self)SubjectAccessReview the way `kubectl auth can-i` expects. */
export function accessReview(
  rbac: RbacAuthorizer,
  info: ResourceInfo,
  body: KubeObject,
  requester: UserInfo,
): KubeObject {
  const spec = (body.spec ?? {}) as Rec;
  let subject: UserInfo = requester;
  if (info.kind === 'SubjectAccessReview') {
    subject = {
      username: str(spec.user),
      groups: (spec.groups as string[] | undefined) ?? [],
      uid: spec.uid as string | undefined,
    };
  }
  const ra = spec.resourceAttributes as Rec | undefined;
  const nra = spec.nonResourceAttributes as Rec | undefined;
  if (!ra && !nra)
    throw badRequest(
      'exactly one of nonResourceAttributes or resourceAttributes must be specified',
    );
  let resource = str(ra?.resource);
  let subresource = str(ra?.subresource);
  if (resource.includes('/') && !subresource)
    [resource, subresource] = resource.split('/', 2) as [string, string];
  const decision = rbac.authorize({
    user: subject,
    verb: str((ra ?? nra)?.verb),
    resourceRequest: ra !== undefined,
    namespace: str(ra?.namespace),
    apiGroup: str(ra?.group),
    resource,
    subresource,
    name: str(ra?.name),
    path: str(nra?.path),
  });
  return {
    kind: info.kind,
    apiVersion: apiVersionOf(info),
    metadata: { creationTimestamp: null } as unknown as KubeObject['metadata'],
    spec,
    status: {
      allowed: decision.allowed,
      ...(decision.reason ? { reason: decision.reason } : {}),
    },
  };
}
