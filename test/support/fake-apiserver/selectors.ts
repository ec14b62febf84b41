import { badRequest } from './status.js';
import type { KubeObject } from './types.js';

type LabelOp = '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists';
interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

/** A parsed label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`); empty matches all. */
export interface LabelSelector {
  readonly requirements: readonly LabelRequirement[];
  matches(labels: Record<string, string> | undefined): boolean;
}

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

function checkKey(key: string, term: string): string {
  if (!KEY.test(key) || key.length > 316) {
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  }
  return key;
}

function checkValue(value: string): string {
  if (!VALUE.test(value) || value.length > 63) {
    throw badRequest(
      `unable to parse requirement: values[0]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
  return value;
}

function parseLabelTerm(term: string): LabelRequirement {
  const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (setMatch) {
    const values = setMatch[3]!.split(',').map((v) => checkValue(v.trim()));
    return { key: checkKey(setMatch[1]!, term), op: setMatch[2] as 'in' | 'notin', values };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
  if (eq) {
    const op = eq[2] === '!=' ? '!=' : '=';
    return { key: checkKey(eq[1]!, term), op, values: [checkValue(eq[3]!.trim())] };
  }
  if (term.startsWith('!'))
    return { key: checkKey(term.slice(1).trim(), term), op: '!exists', values: [] };
  return { key: checkKey(term, term), op: 'exists', values: [] };
}

export function parseLabelSelector(text: string | null | undefined): LabelSelector {
  const requirements = text ? splitTerms(text).map(parseLabelTerm) : [];
  return {
    requirements,
    matches(labels) {
      const l = labels ?? {};
      return requirements.every((r) => {
        const has = Object.hasOwn(l, r.key);
        const v = l[r.key];
        switch (r.op) {
          case '=':
            return has && v === r.values[0];
          case '!=':
            return !has || v !== r.values[0];
          case 'in':
            return has && r.values.includes(v!);
          case 'notin':
            return !has || !r.values.includes(v!);
          case 'exists':
            return has;
          case '!exists':
            return !has;
        }
      });
    },
  };
}

/** Field selectors the fake supports per resource (the real server supports a fixed set too). */
const FIELDS: Record<string, (obj: KubeObject) => string | undefined> = {
  'metadata.name': (o) => o.metadata?.name,
  'metadata.namespace': (o) => o.metadata?.namespace ?? '',
};
const POD_FIELDS: Record<string, (obj: KubeObject) => string | undefined> = {
  'status.phase': (o) => (o.status as { phase?: string } | undefined)?.phase ?? '',
  'spec.nodeName': (o) => (o.spec as { nodeName?: string } | undefined)?.nodeName ?? '',
  'spec.restartPolicy': (o) =>
    (o.spec as { restartPolicy?: string } | undefined)?.restartPolicy ?? '',
};
const SECRET_FIELDS: Record<string, (obj: KubeObject) => string | undefined> = {
  type: (o) => (o.type as string | undefined) ?? '',
};
const EVENT_FIELDS: Record<string, (obj: KubeObject) => string | undefined> = Object.fromEntries(
  ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'].map((f) => [
    `involvedObject.${f}`,
    (o: KubeObject) => (o.involvedObject as Record<string, string> | undefined)?.[f] ?? '',
  ]),
);
EVENT_FIELDS.reason = (o) => (o.reason as string | undefined) ?? '';
EVENT_FIELDS.type = (o) => (o.type as string | undefined) ?? '';

function fieldsFor(resourceKey: string): Record<string, (obj: KubeObject) => string | undefined> {
  if (resourceKey === 'pods') return { ...FIELDS, ...POD_FIELDS };
  if (resourceKey === 'secrets') return { ...FIELDS, ...SECRET_FIELDS };
  if (resourceKey === 'events') return { ...FIELDS, ...EVENT_FIELDS };
  return FIELDS;
}

export interface FieldSelector {
  matches(obj: KubeObject): boolean;
  /** The name a `metadata.name=` term pins, used to authorize list/watch with resourceNames. */
  readonly pinnedName: string | undefined;
}

export function parseFieldSelector(
  text: string | null | undefined,
  resourceKey: string,
): FieldSelector {
  const fields = fieldsFor(resourceKey);
  const terms = (text ? text.split(',') : []).map((t) => t.trim()).filter((t) => t.length > 0);
  const reqs = terms.map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${text ?? ''}'; can't understand '${term}'`);
    const field = m[1]!.trim();
    const get = fields[field];
    if (!get) throw badRequest(`field label not supported: ${field}`);
    return { field, get, negate: m[2] === '!=', value: m[3]!.trim() };
  });
  const pinned = reqs.find((r) => r.field === 'metadata.name' && !r.negate)?.value;
  return {
    pinnedName: pinned,
    matches(obj) {
      return reqs.every((r) => (r.get(obj) === r.value) !== r.negate);
    },
  };
}
