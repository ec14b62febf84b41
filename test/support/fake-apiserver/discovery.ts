import { createHash } from 'node:crypto';
import { RESOURCES, apiGroups, apiVersionOf, type ResourceInfo } from './resources.js';

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64').slice(0, 11) + '=';
}

function apiResource(r: ResourceInfo): object[] {
  const main = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    ...(r.virtual ? {} : { storageVersionHash: hash(`${apiVersionOf(r)}/${r.kind}`) }),
  };
  const subs = r.subresources.map((s) => ({
    name: `${r.plural}/${s.name}`,
    singularName: '',
    namespaced: r.namespaced,
    kind: s.kind,
    verbs: s.verbs,
  }));
  return [main, ...subs];
}

/** `/api`: the core group's versions. */
export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupEntry(group: string, version: string): object {
  const gv = { groupVersion: `${group}/${version}`, version };
  return { name: group, versions: [gv], preferredVersion: gv };
}

/** `/apis`. */
export function apiGroupList(): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: apiGroups().map(({ group, version }) => groupEntry(group, version)),
  };
}

/** `/apis/{group}`, or undefined for a group the fake does not serve. */
export function apiGroup(group: string): object | undefined {
  const g = apiGroups().find((x) => x.group === group);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(g.group, g.version) } : undefined;
}

/** `/api/v1` or `/apis/{group}/{version}`. */
export function apiResourceList(group: string, version: string): object | undefined {
  const rs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: rs.flatMap(apiResource),
  };
}

export function versionInfo(gitVersion: string): object {
  const m = /^v(\d+)\.(\d+)/.exec(gitVersion);
  return {
    major: m?.[1] ?? '1',
    minor: m?.[2] ?? '35',
    emulationMajor: m?.[1] ?? '1',
    emulationMinor: m?.[2] ?? '35',
    minCompatibilityMajor: '1',
    minCompatibilityMinor: String(Number(m?.[2] ?? '35') - 1),
    gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.25.5',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** The group-versions `/openapi/v3` lists, by path (`api/v1`, `apis/apps/v1`). */
function openApiGroupVersions(): Map<string, ResourceInfo[]> {
  const out = new Map<string, ResourceInfo[]>();
  for (const r of RESOURCES) {
    const p = r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`;
    out.set(p, [...(out.get(p) ?? []), r]);
  }
  return out;
}

/** `/openapi/v3`: the index of per-group-version documents. */
export function openApiV3Index(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const p of openApiGroupVersions().keys()) {
    paths[p] = {
      serverRelativeURL: `/openapi/v3/${p}?hash=${hash(p).replace(/[^A-Za-z0-9]/g, '')}`,
    };
  }
  return { paths };
}

/**
 * `/openapi/v3/{gv}`: a minimal document. kubectl reads it to learn that the server validates
 * fields itself (the `fieldValidation` parameter on PATCH operations of each kind), so it sends
 * `fieldValidation=Strict` instead of validating client-side; schemas are open objects.
 */
export function openApiV3Document(gvPath: string): object | undefined {
  const rs = openApiGroupVersions().get(gvPath);
  if (!rs) return undefined;
  const paths: Record<string, object> = {};
  const schemas: Record<string, object> = {};
  for (const r of rs) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const prefix = `/${gvPath}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}`;
    const ref = `io.k8s.fake.${r.group || 'core'}.${r.version}.${r.kind}`;
    schemas[ref] = {
      type: 'object',
      'x-kubernetes-group-version-kind': [gvk],
      'x-kubernetes-preserve-unknown-fields': true,
    };
    const params = [
      { name: 'dryRun', in: 'query', schema: { type: 'string' } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
    ];
    const op = (action: string): object => ({
      operationId: `${action}${r.kind}`,
      parameters: params,
      responses: {
        '200': {
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
        },
      },
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
    });
    paths[prefix] = { post: op('post') };
    paths[`${prefix}/{name}`] = {
      get: op('get'),
      put: op('put'),
      patch: op('patch'),
      delete: op('delete'),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.35.0' },
    paths,
    components: { schemas },
  };
}

export const AGGREGATED_DISCOVERY_TYPE =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Whether the client asked for aggregated discovery (apidiscovery.k8s.io/v2), as kubectl does. */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some(
      (part) =>
        /as=APIGroupDiscoveryList/.test(part) &&
        /g=apidiscovery\.k8s\.io/.test(part) &&
        /v=v2(;|$)/.test(part.replace(/\s/g, '')),
    );
}

/** `/api` (core) or `/apis` (named groups) as one aggregated `APIGroupDiscoveryList`. */
export function aggregatedDiscovery(core: boolean): object {
  const groups = core ? [{ group: '', version: 'v1' }] : apiGroups();
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map(({ group, version }) => ({
      metadata: { name: group, creationTimestamp: null },
      versions: [
        {
          version,
          resources: RESOURCES.filter((r) => r.group === group && r.version === version).map(
            (r) => ({
              resource: r.plural,
              responseKind: { group, version, kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singular,
              verbs: r.verbs,
              ...(r.shortNames ? { shortNames: r.shortNames } : {}),
              ...(r.categories ? { categories: r.categories } : {}),
              ...(r.subresources.length > 0
                ? {
                    subresources: r.subresources.map((s) => ({
                      subresource: s.name,
                      responseKind: { group, version, kind: s.kind },
                      verbs: s.verbs,
                    })),
                  }
                : {}),
            }),
          ),
          freshness: 'Current',
        },
      ],
    })),
  };
}
