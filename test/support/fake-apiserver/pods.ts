import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { str, type Rec } from './json.js';
import { podContainers } from './kubelet.js';
import { resourceByKey } from './resources.js';
import { badRequest } from './status.js';
import type { ObjectStore } from './store.js';
import type { KubeObject } from './types.js';

const SECRETS = resourceByKey('secrets');
const CONFIGMAPS = resourceByKey('configmaps');

/** The container a log or exec request means, with the real server's 400s. */
export function pickContainer(pod: KubeObject, requested: string | null): string {
  const names = podContainers(pod).map((c) => c.name);
  const podName = pod.metadata?.name ?? '';
  if (requested) {
    if (!names.includes(requested))
      throw badRequest(`container ${requested} is not valid for pod ${podName}`);
    return requested;
  }
  const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (names.length === 1) return names[0]!;
  if (annotated && names.includes(annotated)) return annotated;
  throw badRequest(
    `a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`,
  );
}

export function containerState(
  pod: KubeObject,
  container: string,
): { waiting?: string; running: boolean } {
  const cs = (((pod.status as Rec | undefined)?.containerStatuses as Rec[] | undefined) ?? []).find(
    (c) => c.name === container,
  );
  const state = (cs?.state ?? {}) as Rec;
  if (state.running) return { running: true };
  if (state.waiting)
    return {
      waiting: str((state.waiting as Rec).reason, 'ContainerCreating'),
      running: false,
    };
  if (state.terminated) return { running: false };
  return { waiting: 'ContainerCreating', running: false };
}

/** The per-pod working directory exec'd processes run in (created on demand). */
export function podDir(dataDir: string, namespace: string, pod: string): string {
  const dir = path.join(dataDir, 'pods', namespace, pod);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The environment a container would see: env values and envFrom of Secrets/ConfigMaps. */
export function containerEnv(
  store: ObjectStore,
  baseEnv: Record<string, string>,
  home: string,
  pod: KubeObject,
  container: string,
  namespace: string,
): Record<string, string> {
  const spec = (pod.spec ?? {}) as Rec;
  const c = ((spec.containers as Rec[] | undefined) ?? []).find((x) => x.name === container) ?? {};
  const env: Record<string, string> = {
    ...baseEnv,
    HOME: home,
    HOSTNAME: pod.metadata?.name ?? '',
  };
  const dataOf = (kind: 'secret' | 'configmap', name: string): Record<string, string> => {
    const obj = store.get(kind === 'secret' ? SECRETS : CONFIGMAPS, namespace, name);
    const data = (obj?.data ?? {}) as Record<string, string>;
    if (kind === 'configmap') return data;
    return Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  };
  for (const from of (c.envFrom as Rec[] | undefined) ?? []) {
    const prefix = str(from.prefix);
    const secretRef = from.secretRef as Rec | undefined;
    const cmRef = from.configMapRef as Rec | undefined;
    const data = secretRef
      ? dataOf('secret', String(secretRef.name))
      : cmRef
        ? dataOf('configmap', String(cmRef.name))
        : {};
    for (const [k, v] of Object.entries(data)) env[prefix + k] = v;
  }
  for (const e of (c.env as Rec[] | undefined) ?? []) {
    const name = str(e.name);
    if (typeof e.value === 'string') env[name] = e.value;
    const vf = e.valueFrom as Rec | undefined;
    const sk = vf?.secretKeyRef as Rec | undefined;
    const ck = vf?.configMapKeyRef as Rec | undefined;
    if (sk) {
      const v = dataOf('secret', String(sk.name))[String(sk.key)];
      if (v !== undefined) env[name] = v;
    }
    if (ck) {
      const v = dataOf('configmap', String(ck.name))[String(ck.key)];
      if (v !== undefined) env[name] = v;
    }
  }
  return env;
}
