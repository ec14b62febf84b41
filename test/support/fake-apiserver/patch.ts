import { badRequest, unsupportedMediaType } from './status.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch: objects merge, `null` deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v) as Json;
  }
  return out;
}

/**
 * List fields the strategic merge patch merges by key (from the Kubernetes types' patchMergeKey
 * tags) for the fields this project touches; every other list is replaced, as for atomic lists.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  conditions: 'type',
  finalizers: '',
  ownerReferences: 'uid',
  tolerations: '',
};

/**
 * Strategic merge patch for the fields we use: maps merge recursively, `null` deletes,
 * `$patch: replace|delete` directives on maps and keyed list items, keyed lists merge by their
 * merge key, `$setElementOrder/` and `$retainKeys` hints are accepted and ignored (order and
 * retention of the result are the same for the cases we touch).
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const directive = patch.$patch;
  if (directive === 'replace') {
    const copy = { ...patch };
    delete copy.$patch;
    return copy;
  }
  if (directive === 'delete') return undefined;
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const list = out[field];
      if (Array.isArray(list) && Array.isArray(v)) out[field] = list.filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const mergeKey = MERGE_KEYS[k];
    if (Array.isArray(v) && mergeKey && Array.isArray(out[k])) {
      out[k] = mergeList(out[k], v, mergeKey);
      continue;
    }
    if (Array.isArray(v) && mergeKey === '' && Array.isArray(out[k])) {
      // Primitive lists with patchStrategy merge (finalizers): union, keeping order.
      const merged = [...out[k]];
      for (const x of v) if (!merged.includes(x)) merged.push(x);
      out[k] = merged;
      continue;
    }
    const next = strategicMergePatch(out[k], v);
    if (next === undefined) delete out[k];
    else out[k] = next as Json;
  }
  return out;
}

function mergeList(current: Json[], patch: Json[], key: string): Json[] {
  const out = structuredClone(current);
  for (const item of patch) {
    if (!isObject(item)) continue;
    if (item.$patch === 'replace')
      return patch.filter((i) => !(isObject(i) && i.$patch === 'replace'));
    const idx = out.findIndex((c) => isObject(c) && c[key] === item[key]);
    if (item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item) as Json;
    else out.push(item);
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`json patch: invalid path "${path}"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(
  doc: unknown,
  parts: string[],
  path: string,
): { parent: JsonObject | Json[]; last: string } {
  let cur: unknown = doc;
  for (const p of parts.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) throw badRequest(`json patch: path "${path}" does not exist`);
  }
  if (!isObject(cur) && !Array.isArray(cur))
    throw badRequest(`json patch: path "${path}" does not exist`);
  return { parent: cur, last: parts[parts.length - 1]! };
}

function getAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const p of pointer(path)) {
    cur = Array.isArray(cur) ? cur[Number(p)] : isObject(cur) ? cur[p] : undefined;
    if (cur === undefined) throw badRequest(`json patch: path "${path}" does not exist`);
  }
  return cur;
}

/** RFC 6902 JSON patch (`kubectl patch --type=json`). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch: the patch must be a JSON array');
  let doc = structuredClone(target);
  for (const raw of ops as JsonPatchOp[]) {
    const parts = pointer(raw.path);
    const remove = (path: string): unknown => {
      const { parent, last } = parentOf(doc, pointer(path), path);
      if (Array.isArray(parent)) return parent.splice(Number(last), 1)[0];
      if (!(last in parent)) throw badRequest(`json patch: path "${path}" does not exist`);
      const v = parent[last];
      delete parent[last];
      return v;
    };
    const add = (value: unknown): void => {
      if (parts.length === 0) {
        doc = structuredClone(value);
        return;
      }
      const { parent, last } = parentOf(doc, parts, raw.path);
      if (Array.isArray(parent)) {
        parent.splice(
          last === '-' ? parent.length : Number(last),
          0,
          structuredClone(value) as Json,
        );
      } else parent[last] = structuredClone(value) as Json;
    };
    switch (raw.op) {
      case 'add':
        add(raw.value);
        break;
      case 'remove':
        remove(raw.path);
        break;
      case 'replace':
        remove(raw.path);
        add(raw.value);
        break;
      case 'move':
        add(remove(raw.from ?? ''));
        break;
      case 'copy':
        add(getAt(doc, raw.from ?? ''));
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) {
          throw badRequest(`json patch: test operation failed at "${raw.path}"`);
        }
        break;
      default:
        throw badRequest(`json patch: unknown op "${raw.op}"`);
    }
  }
  return doc;
}

export type PatchType = 'merge' | 'strategic' | 'json';

export function patchTypeOf(contentType: string | undefined): PatchType {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/json-patch+json') return 'json';
  throw unsupportedMediaType(ct);
}

export function applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
  if (type === 'json') return jsonPatch(target, patch);
  if (!isObject(patch)) throw badRequest('the patch must be a JSON object');
  return type === 'merge' ? mergePatch(target, patch) : strategicMergePatch(target, patch);
}
