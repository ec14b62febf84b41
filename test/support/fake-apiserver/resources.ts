/** What the fake knows about each resource type: names for discovery, REST and messages. */
export interface ResourceInfo {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources: { name: string; kind: string; verbs: string[] }[];
  /** Only POST is meaningful (access reviews): nothing is stored. */
  virtual?: boolean;
}

const RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const RESOURCES: readonly ResourceInfo[] = [
  {
    group: '',
    version: 'v1',
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
    subresources: [{ name: 'status', kind: 'Namespace', verbs: ['get', 'patch', 'update'] }],
  },
  {
    group: '',
    version: 'v1',
    plural: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    verbs: RW,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      { name: 'status', kind: 'Pod', verbs: ['get', 'patch', 'update'] },
    ],
  },
  {
    group: '',
    version: 'v1',
    plural: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
    verbs: RW,
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    plural: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    verbs: RW,
    shortNames: ['cm'],
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    verbs: RW,
    shortNames: ['ev'],
    subresources: [],
  },
  {
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    verbs: RW,
    shortNames: ['sa'],
    subresources: [],
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    singular: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    verbs: RW,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [{ name: 'status', kind: 'Deployment', verbs: ['get', 'patch', 'update'] }],
  },
  ...(['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'] as const).map(
    (plural): ResourceInfo => ({
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      plural,
      singular: plural.slice(0, -1),
      kind: {
        roles: 'Role',
        rolebindings: 'RoleBinding',
        clusterroles: 'ClusterRole',
        clusterrolebindings: 'ClusterRoleBinding',
      }[plural],
      namespaced: !plural.startsWith('cluster'),
      verbs: RW,
      subresources: [],
    }),
  ),
  ...(['selfsubjectaccessreviews', 'subjectaccessreviews'] as const).map(
    (plural): ResourceInfo => ({
      group: 'authorization.k8s.io',
      version: 'v1',
      plural,
      singular: '',
      kind: plural === 'subjectaccessreviews' ? 'SubjectAccessReview' : 'SelfSubjectAccessReview',
      namespaced: false,
      verbs: ['create'],
      subresources: [],
      virtual: true,
    }),
  ),
];

/** `pods`, `deployments.apps`: the key the store and the test API use. */
export function resourceKey(info: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

export function apiVersionOf(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group ? `${info.group}/${info.version}` : info.version;
}

export function findResource(
  group: string,
  version: string,
  plural: string,
): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function resourceByKey(key: string): ResourceInfo {
  const info = RESOURCES.find((r) => resourceKey(r) === key);
  if (!info) throw new Error(`fake-apiserver: unknown resource ${key}`);
  return info;
}

export function resourceForObject(
  apiVersion: string | undefined,
  kind: string | undefined,
): ResourceInfo | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/** Groups in the order discovery lists them (core is served under `/api`). */
export function apiGroups(): { group: string; version: string }[] {
  const seen = new Map<string, string>();
  for (const r of RESOURCES) if (r.group && !seen.has(r.group)) seen.set(r.group, r.version);
  return [...seen].map(([group, version]) => ({ group, version }));
}
