/** Shared by the chart tests: the documented value sets, pod-spec walking, schema validation. */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import {
  CHART_DIR,
  configMapYaml,
  DEFAULT_NAMESPACE,
  renderChart,
  type K8sObject,
  type RenderOptions,
} from '../support/chart.js';
import { ROOT } from '../support/paths.js';

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
  return group
    ? `kubernetes-models/${group}/${version}/${kind}`
    : `kubernetes-models/${version}/${kind}`;
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
export function serverConfig(
  objects: readonly K8sObject[],
  comp: 'bastion' | 'keys-service',
): Json {
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

/**
 * Strict field validation, as the API server does with `fieldValidation=Strict`: each object
 * becomes a TypeScript object literal typed with its kubernetes-models interface, so the type
 * checker reports unknown (e.g. misspelt) fields at any depth and wrong types. Returns one
 * message per problem, naming the object.
 */
export function kubernetesFieldErrors(objects: readonly K8sObject[]): string[] {
  const file = path.join(ROOT, 'test', 'chart', '__rendered_manifests__.ts');
  const imports = new Map<string, string>();
  const declarations: string[] = [];
  const names: string[] = [];
  for (const o of objects) {
    if (o.apiVersion.startsWith('monitoring.coreos.com/')) continue;
    const mod = modelModule(o.apiVersion, o.kind);
    let alias = imports.get(mod);
    if (!alias) {
      alias = `T${imports.size}`;
      imports.set(mod, alias);
    }
    names.push(`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    declarations.push(`export const o${declarations.length}: ${alias} = ${JSON.stringify(o)};`);
  }
  const importLines = [...imports].map(([mod, alias]) => {
    const kind = mod.slice(mod.lastIndexOf('/') + 1);
    return `import type { I${kind} as ${alias} } from '${mod}';`;
  });
  const source = [...importLines, ...declarations].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file
      ? ts.createSourceFile(name, source, language)
      : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== file || d.start === undefined) return text;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line - importLines.length;
    return `${names[line] ?? 'imports'}: ${text}`;
  });
}
