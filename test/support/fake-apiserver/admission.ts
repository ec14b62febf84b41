/**
 * Validating admission as the real API server runs it after authorization and defaulting:
 * ValidatingAdmissionPolicies with their bindings (CEL via @marcbachmann/cel-js, with the
 * `object`, `oldObject`, `request`, `params`, `namespaceObject` and lazy `variables` that
 * Kubernetes gives), then Pod Security Admission on pods of labelled namespaces.
 *
 * Fidelity limits (docs/operations.md): CEL is evaluated untyped (Kubernetes type-checks
 * against the OpenAPI schema first, so an expression that type-checks only here may be refused
 * at install), cost limits are not enforced, and `auditAnnotations`/`Warn`/`Audit` actions are
 * ignored except that `Deny` is required for a refusal.
 */
import { evaluate } from '@marcbachmann/cel-js';
import { podSecurityViolations } from './pod-security.js';
import { resourceByKey, type ResourceInfo } from './resources.js';
import { qualifiedName, StatusError } from './status.js';
import type { ObjectStore } from './store.js';
import type { KubeObject, UserInfo } from './types.js';
import { str, type Rec } from './json.js';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE';

/** One write as admission sees it (after defaulting, before storage). */
export interface AdmissionRequest {
  readonly operation: AdmissionOperation;
  readonly info: ResourceInfo;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  readonly user: UserInfo;
  readonly object: KubeObject | null;
  readonly oldObject: KubeObject | null;
  readonly dryRun: boolean;
}

const NAMESPACES = resourceByKey('namespaces');
const CONFIGMAPS = resourceByKey('configmaps');

/** CEL has int and double; Kubernetes integers are ints, so JSON integers become bigints. */
export function celValue(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(celValue);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  }
  return value;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A metav1.LabelSelector; absent or empty matches everything, as in Kubernetes. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {}))
    if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    const ok =
      e.operator === 'In'
        ? inValues
        : e.operator === 'NotIn'
          ? !inValues
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

interface ResourceRule {
  apiGroups?: string[];
  apiVersions?: string[];
  operations?: string[];
  resources?: string[];
}

const listHas = (list: string[] | undefined, value: string): boolean =>
  (list ?? []).some((v) => v === '*' || v === value);

function ruleMatches(rules: ResourceRule[] | undefined, r: AdmissionRequest): boolean {
  const resource = r.subresource ? `${r.info.plural}/${r.subresource}` : r.info.plural;
  return (rules ?? []).some(
    (rule) =>
      listHas(rule.apiGroups, r.info.group) &&
      listHas(rule.apiVersions, r.info.version) &&
      listHas(rule.operations, r.operation) &&
      ((rule.resources ?? []).includes(resource) ||
        (rule.resources ?? []).includes('*') ||
        (!r.subresource && (rule.resources ?? []).includes(`${r.info.plural}/*`)) ||
        (r.subresource !== '' && (rule.resources ?? []).includes(`*/${r.subresource}`))),
  );
}

interface MatchResources {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules?: ResourceRule[];
  excludeResourceRules?: ResourceRule[];
}

/** Why a policy refused: the policy, its binding and the validation's message. */
class Denial {
  constructor(
    readonly policy: string,
    readonly binding: string,
    readonly message: string,
    readonly reason: string,
  ) {}
}

/** Holds the loaded policies and bindings and admits or refuses writes. */
export class AdmissionController {
  private readonly policies = new Map<string, KubeObject>();
  private readonly bindings: KubeObject[] = [];

  constructor(private readonly store: ObjectStore) {}

  /** Loads ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding objects. */
  load(objects: readonly KubeObject[]): void {
    for (const o of objects) {
      if (o.kind === 'ValidatingAdmissionPolicy') this.policies.set(o.metadata?.name ?? '', o);
      if (o.kind === 'ValidatingAdmissionPolicyBinding') this.bindings.push(o);
    }
  }

  /** Throws the StatusError the API server answers when a policy or Pod Security refuses. */
  admit(r: AdmissionRequest): void {
    const nsObject = r.info.namespaced
      ? (this.store.get(NAMESPACES, '', r.namespace) ?? null)
      : null;
    // The plugin order of kube-apiserver: PodSecurity runs before ValidatingAdmissionPolicy.
    this.podSecurity(r, nsObject);
    for (const binding of this.bindings) {
      const denial = this.evaluateBinding(binding, r, nsObject);
      if (denial) throw this.refusal(r, denial);
    }
  }

  private refusal(r: AdmissionRequest, d: Denial): StatusError {
    const code = d.reason === 'Forbidden' ? 403 : d.reason === 'Unauthorized' ? 401 : 422;
    const name = r.name || (r.object?.metadata?.name ?? '');
    return new StatusError({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `${qualifiedName(r.info)} "${name}" is forbidden: ValidatingAdmissionPolicy '${d.policy}' with binding '${d.binding}' denied request: ${d.message}`,
      reason: d.reason,
      details: { name, ...(r.info.group ? { group: r.info.group } : {}), kind: r.info.plural },
      code,
    });
  }

  private evaluateBinding(
    binding: KubeObject,
    r: AdmissionRequest,
    nsObject: KubeObject | null,
  ): Denial | undefined {
    const bspec = (binding.spec ?? {}) as Rec;
    const policy = this.policies.get(str(bspec.policyName));
    if (!policy) return undefined;
    const pspec = (policy.spec ?? {}) as Rec;
    const constraints = (pspec.matchConstraints ?? {}) as MatchResources;
    if (!this.resourcesMatch(constraints, r, nsObject)) return undefined;
    const bindingMatch = bspec.matchResources as MatchResources | undefined;
    if (bindingMatch && !this.resourcesMatch(bindingMatch, r, nsObject, true)) return undefined;
    const actions = (bspec.validationActions ?? []) as string[];
    const names = { policy: policy.metadata?.name ?? '', binding: binding.metadata?.name ?? '' };
    const failClosed = (pspec.failurePolicy ?? 'Fail') === 'Fail';
    const deny = (message: string, reason = 'Invalid'): Denial | undefined =>
      actions.includes('Deny')
        ? new Denial(names.policy, names.binding, message, reason)
        : undefined;

    const params = this.paramsFor(pspec, bspec, r);
    if (params === 'missing') {
      const ref = (bspec.paramRef ?? {}) as Rec;
      if (ref.parameterNotFoundAction === 'Deny')
        return deny(`no params found for policy binding with \`Deny\` parameterNotFoundAction`);
      return undefined;
    }
    const context = this.celContext(r, nsObject, params);
    try {
      for (const c of (pspec.matchConditions ?? []) as Rec[]) {
        if (evaluate(String(c.expression), context) !== true) return undefined;
      }
    } catch (err) {
      return failClosed ? deny(`failed to evaluate match condition: ${String(err)}`) : undefined;
    }
    this.defineVariables(context, (pspec.variables ?? []) as Rec[]);
    for (const v of (pspec.validations ?? []) as Rec[]) {
      let ok: unknown;
      try {
        ok = evaluate(String(v.expression), context);
      } catch (err) {
        if (failClosed)
          return deny(`expression '${String(v.expression)}' resulted in error: ${String(err)}`);
        continue;
      }
      if (ok === true) continue;
      const message =
        typeof v.message === 'string'
          ? v.message
          : typeof v.messageExpression === 'string'
            ? safeString(v.messageExpression, context)
            : `failed expression: ${String(v.expression)}`;
      return deny(message, typeof v.reason === 'string' ? v.reason : 'Invalid');
    }
    return undefined;
  }

  private resourcesMatch(
    m: MatchResources,
    r: AdmissionRequest,
    nsObject: KubeObject | null,
    rulesOptional = false,
  ): boolean {
    if (!(rulesOptional && !m.resourceRules) && !ruleMatches(m.resourceRules, r)) return false;
    if (m.excludeResourceRules && ruleMatches(m.excludeResourceRules, r)) return false;
    if (m.namespaceSelector && r.info.namespaced) {
      const labels = {
        ...(nsObject?.metadata?.labels ?? {}),
        'kubernetes.io/metadata.name': r.namespace,
      };
      if (!selectorMatches(m.namespaceSelector, labels)) return false;
    }
    const obj = r.object ?? r.oldObject;
    return selectorMatches(m.objectSelector, obj?.metadata?.labels ?? {});
  }

  /** The ConfigMap (the only paramKind the chart uses) named by the binding's paramRef. */
  private paramsFor(pspec: Rec, bspec: Rec, r: AdmissionRequest): KubeObject | null | 'missing' {
    const ref = bspec.paramRef as Rec | undefined;
    if (!pspec.paramKind || !ref) return null;
    const kind = pspec.paramKind as Rec;
    if (kind.kind !== 'ConfigMap') return 'missing';
    const ns = typeof ref.namespace === 'string' ? ref.namespace : r.namespace;
    const found = this.store.get(CONFIGMAPS, ns, str(ref.name));
    return found ?? 'missing';
  }

  private celContext(
    r: AdmissionRequest,
    nsObject: KubeObject | null,
    params: KubeObject | null,
  ): Record<string, unknown> {
    return {
      object: celValue(r.object),
      oldObject: celValue(r.oldObject),
      params: celValue(params),
      namespaceObject: celValue(nsObject),
      request: celValue({
        kind: { group: r.info.group, version: r.info.version, kind: r.info.kind },
        resource: { group: r.info.group, version: r.info.version, resource: r.info.plural },
        subResource: r.subresource,
        name: r.name,
        namespace: r.namespace,
        operation: r.operation,
        userInfo: { username: r.user.username, groups: r.user.groups },
        dryRun: r.dryRun,
      }),
    };
  }

  /** Variables are lazy in Kubernetes: one that errors fails only the expressions using it. */
  private defineVariables(context: Record<string, unknown>, defs: Rec[]): void {
    const variables: Record<string, unknown> = {};
    const cache = new Map<string, unknown>();
    for (const def of defs) {
      const name = String(def.name);
      Object.defineProperty(variables, name, {
        enumerable: true,
        get() {
          if (!cache.has(name)) cache.set(name, evaluate(String(def.expression), context));
          return cache.get(name);
        },
      });
    }
    context.variables = variables;
  }

  /** Pod Security Admission: enforced on pod create and on updates that change the spec. */
  private podSecurity(r: AdmissionRequest, nsObject: KubeObject | null): void {
    if (r.info.kind !== 'Pod' || r.subresource !== '' || !r.object) return;
    if (r.operation === 'DELETE') return;
    if (
      r.operation === 'UPDATE' &&
      JSON.stringify(r.object.spec) === JSON.stringify(r.oldObject?.spec)
    )
      return;
    const level = nsObject?.metadata?.labels?.['pod-security.kubernetes.io/enforce'];
    if (level !== 'restricted' && level !== 'baseline') return;
    const violations = podSecurityViolations(r.object, level);
    if (violations.length === 0) return;
    const name = r.object.metadata?.name ?? '';
    throw new StatusError({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `pods "${name}" is forbidden: violates PodSecurity "${level}:latest": ${violations.join(', ')}`,
      reason: 'Forbidden',
      details: { name, kind: 'pods' },
      code: 403,
    });
  }
}

function safeString(expression: string, context: Record<string, unknown>): string {
  try {
    return String(evaluate(expression, context));
  } catch {
    return `failed expression`;
  }
}
