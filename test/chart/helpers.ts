/** Shared by the chart tests: the documented value sets, pod-spec walking, schema validation. */
import fs from 'node:fs';
import path from 'node:path';
import {
  CHART_DIR,
  configMapYaml,
  DEFAULT_NAMESPACE,
  renderChart,
  type K8sObject,
  type RenderOptions,
} from '../support/chart.js';

/** The default values plus every documented value set in `ci/` (also linted by the tests). */
export interface ValueSet {
  readonly name: string;
  readonly options: RenderOptions;
}

export const VALUE_SETS: readonly ValueSet[] = [
  { name: 'defaults', options: {} },
  ...fs
    .readdirSync(path.join(CHART_DIR, 'ci'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({
      name: `ci/${f}`,
      options: { valuesFiles: [path.join(CHART_DIR, 'ci', f)] },
    })),
];

const rendered = new Map<string, Promise<K8sObject[]>>();

/** Renders a value set once per test process. */
export function renderSet(set: ValueSet): Promise<K8sObject[]> {
  let p = rendered.get(set.name);
  if (!p) {
    p = renderChart(undefined, [], set.options);
    rendered.set(set.name, p);
  }
  return p;
}

export const NAMESPACE = DEFAULT_NAMESPACE;

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */
export type Json = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface PodSpecOf {
  readonly owner: K8sObject;
  readonly spec: Json;
  readonly labels: Record<string, string>;
}

/** The pod templates of every workload (Deployments and Jobs). */
export function podSpecs(objects: readonly K8sObject[]): PodSpecOf[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
    .map((o) => {
      const template = (o as Json).spec.template;
      return { owner: o, spec: template.spec, labels: template.metadata?.labels ?? {} };
    });
}

export function byKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function component(o: K8sObject): string | undefined {
  return o.metadata.labels?.['app.kubernetes.io/component'];
}

/** Does a `matchLabels` selector select these labels? */
export function selects(matchLabels: Record<string, string>, labels: Record<string, string>) {
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

/** Where the Kubernetes models live: `kubernetes-models/<group>/<version>/<Kind>`. */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/**
 * Validates an object against the Kubernetes OpenAPI schema of its kind (kubernetes-models,
 * generated from the upstream OpenAPI spec). Throws with the schema's error. Kinds without a
 * model (CRDs such as ServiceMonitor) return false.
 */
export async function validateAgainstKubernetesSchema(obj: K8sObject): Promise<boolean> {
  if (obj.apiVersion.startsWith('monitoring.coreos.com/')) return false;
  const mod = (await import(modelModule(obj.apiVersion, obj.kind))) as Record<string, unknown>;
  const Model = mod[obj.kind] as ModelClass | undefined;
  if (!Model) throw new Error(`no Kubernetes model for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(
      `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}: ${(err as Error).message}`,
    );
  }
  return true;
}

/**
 * Keys of `input` that a zod parse dropped from `output` (zod strips unknown keys of
 * non-strict objects silently, which would hide a misspelt config field).
 */
export function droppedKeys(input: unknown, output: unknown, at = ''): string[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((v, i) => droppedKeys(v, output[i], `${at}[${i}]`));
  }
  if (input && typeof input === 'object' && output && typeof output === 'object') {
    const out = output as Record<string, unknown>;
    return Object.entries(input as Record<string, unknown>).flatMap(([k, v]) =>
      k in out ? droppedKeys(v, out[k], at ? `${at}.${k}` : k) : [at ? `${at}.${k}` : k],
    );
  }
  return [];
}

/** A server's config file as rendered into its ConfigMap (`bastion.yaml`, `keys-service.yaml`). */
export function serverConfig(objects: readonly K8sObject[], comp: 'bastion' | 'keys-service'): Json {
  const cm = objects.find(
    (o) =>
      o.kind === 'ConfigMap' &&
      component(o) === comp &&
      o.metadata.annotations?.['helm.sh/hook'] === undefined &&
      (o.data as Record<string, string> | undefined)?.[`${comp}.yaml`] !== undefined,
  );
  if (!cm) throw new Error(`no ${comp} config ConfigMap`);
  return configMapYaml(cm, `${comp}.yaml`);
}
