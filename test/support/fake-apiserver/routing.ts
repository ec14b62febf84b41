/**
 * Request routing as the real server's RequestInfo resolver does it: URL → resource, namespace,
 * name, subresource; HTTP method → RBAC verb; query parameter parsing.
 */
import { parseFieldSelector } from './selectors.js';
import { findResource, resourceKey, type ResourceInfo } from './resources.js';
import type { RequestAttributes } from './rbac.js';
import { badRequest, methodNotAllowed } from './status.js';
import type { IncludeObject } from './table.js';
import type { UserInfo } from './types.js';

/** Where a resource request points, as the real server's RequestInfo resolves it. */
export interface Route {
  info: ResourceInfo;
  namespace: string;
  name: string;
  subresource: string;
}

export function parseRoute(
  segments: string[],
): { group: string; version: string; rest: string[] } | undefined {
  if (segments[0] === 'api' && segments.length >= 2)
    return { group: '', version: segments[1]!, rest: segments.slice(2) };
  if (segments[0] === 'apis' && segments.length >= 3)
    return { group: segments[1]!, version: segments[2]!, rest: segments.slice(3) };
  return undefined;
}

export function resolveRoute(group: string, version: string, rest: string[]): Route | undefined {
  const nsScoped =
    rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize';
  const [plural, name, sub, extra] = nsScoped ? rest.slice(2) : rest;
  if (!plural || extra !== undefined) return undefined;
  const info = findResource(group, version, plural);
  if (!info) return undefined;
  const namespace = nsScoped ? rest[1]! : '';
  if (nsScoped && !info.namespaced) return undefined;
  if (sub && !info.subresources.some((s) => s.name === sub)) return undefined;
  return { info, namespace, name: name ?? '', subresource: sub ?? '' };
}

export function boolParam(q: URLSearchParams, key: string): boolean {
  const v = q.get(key);
  return v === 'true' || v === '1';
}

export function intParam(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid value for ${key}: "${v}"`);
  return n;
}

export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '') && /g=meta\.k8s\.io/.test(accept ?? '');
}

/** Every answer is JSON: a client that accepts only protobuf or CBOR gets 406, as it would. */
export function acceptsJson(accept: string | undefined): boolean {
  if (!accept || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const type = part.split(';')[0]!.trim().toLowerCase();
    return (
      type === '*/*' ||
      type === 'application/*' ||
      type === 'application/json' ||
      type.endsWith('+json')
    );
  });
}

export function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

export function verbFor(method: string, route: Route, q: URLSearchParams): string {
  switch (method) {
    case 'GET':
      if (route.name) return 'get';
      return boolParam(q, 'watch') ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      throw methodNotAllowed();
  }
}

export function attributesFor(
  user: UserInfo,
  verb: string,
  route: Route,
  q: URLSearchParams,
): RequestAttributes {
  let name = route.name;
  if ((verb === 'list' || verb === 'watch') && !name) {
    // A list or watch pinned to one name by field selector is authorized for that name.
    try {
      name = parseFieldSelector(q.get('fieldSelector'), resourceKey(route.info)).pinnedName ?? '';
    } catch {
      name = '';
    }
  }
  const isNamespaceObject = route.info.plural === 'namespaces';
  return {
    user,
    verb,
    resourceRequest: true,
    namespace: isNamespaceObject ? route.name : route.namespace,
    apiGroup: route.info.group,
    resource: route.info.plural,
    subresource: route.subresource,
    name,
    path: '',
  };
}
