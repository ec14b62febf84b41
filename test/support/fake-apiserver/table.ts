import type { KubeObject } from './types.js';
import { str, type Rec } from './json.js';

/** kubectl's age format (k8s.io/apimachinery duration.HumanDuration). */
export function humanDuration(ms: number): string {
  if (ms < -1000) return '<invalid>';
  if (ms < 0) return '0s';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0
      ? `${Math.floor(hours / 24)}d`
      : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  const days = Math.floor(hours / 24) % 365;
  if (hours < 24 * 365 * 8) return days === 0 ? `${years}y` : `${years}y${days}d`;
  return `${years}y`;
}

function age(obj: KubeObject): string {
  const ts = obj.metadata?.creationTimestamp;
  return ts ? humanDuration(Date.now() - Date.parse(ts)) : '<unknown>';
}

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  description: string;
  priority: number;
  cell: (obj: KubeObject) => string | number;
}

const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});
const arr = (v: unknown): Rec[] => (Array.isArray(v) ? (v as Rec[]) : []);

const NAME: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  priority: 0,
  cell: (o) => o.metadata?.name ?? '',
};
const AGE: Column = {
  name: 'Age',
  type: 'string',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  priority: 0,
  cell: age,
};
const col = (
  name: string,
  priority: number,
  cell: Column['cell'],
  type: Column['type'] = 'string',
): Column => ({
  name,
  type,
  description: name,
  priority,
  cell,
});

/** The STATUS column of `kubectl get pods`, following the server's printer. */
function podStatus(o: KubeObject): string {
  const status = rec(o.status);
  let reason = (status.reason as string | undefined) ?? (status.phase as string | undefined) ?? '';
  for (const cs of arr(status.containerStatuses)) {
    const state = rec(cs.state);
    const waiting = rec(state.waiting);
    const term = rec(state.terminated);
    if (typeof waiting.reason === 'string' && waiting.reason) reason = waiting.reason;
    else if (typeof term.reason === 'string' && term.reason) reason = term.reason;
  }
  if (o.metadata?.deletionTimestamp) reason = 'Terminating';
  return reason;
}

function podReady(o: KubeObject): string {
  const spec = rec(o.spec);
  const statuses = arr(rec(o.status).containerStatuses);
  return `${statuses.filter((s) => s.ready === true).length}/${arr(spec.containers).length}`;
}

function podRestarts(o: KubeObject): number {
  return arr(rec(o.status).containerStatuses).reduce(
    (n, s) => n + (Number(s.restartCount) || 0),
    0,
  );
}

const COLUMNS: Record<string, Column[]> = {
  pods: [
    NAME,
    col('Ready', 0, podReady),
    col('Status', 0, podStatus),
    col('Restarts', 0, podRestarts, 'string'),
    AGE,
    col('IP', 1, (o) => (rec(o.status).podIP as string | undefined) ?? '<none>'),
    col('Node', 1, (o) => (rec(o.spec).nodeName as string | undefined) ?? '<none>'),
    col('Nominated Node', 1, () => '<none>'),
    col('Readiness Gates', 1, () => '<none>'),
  ],
  'deployments.apps': [
    NAME,
    col(
      'Ready',
      0,
      (o) => `${Number(rec(o.status).readyReplicas ?? 0)}/${Number(rec(o.spec).replicas ?? 1)}`,
    ),
    col('Up-to-date', 0, (o) => Number(rec(o.status).updatedReplicas ?? 0), 'integer'),
    col('Available', 0, (o) => Number(rec(o.status).availableReplicas ?? 0), 'integer'),
    AGE,
    col('Containers', 1, (o) =>
      arr(rec(rec(rec(o.spec).template).spec).containers)
        .map((c) => String(c.name))
        .join(','),
    ),
    col('Images', 1, (o) =>
      arr(rec(rec(rec(o.spec).template).spec).containers)
        .map((c) => String(c.image))
        .join(','),
    ),
    col('Selector', 1, (o) =>
      Object.entries(rec(rec(rec(o.spec).selector).matchLabels))
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
    ),
  ],
  namespaces: [
    NAME,
    col('Status', 0, (o) => (rec(o.status).phase as string | undefined) ?? 'Active'),
    AGE,
  ],
  secrets: [
    NAME,
    col('Type', 0, (o) => (o.type as string | undefined) ?? 'Opaque'),
    col('Data', 0, (o) => Object.keys(rec(o.data)).length, 'integer'),
    AGE,
  ],
  configmaps: [
    NAME,
    col(
      'Data',
      0,
      (o) => Object.keys(rec(o.data)).length + Object.keys(rec(o.binaryData)).length,
      'integer',
    ),
    AGE,
  ],
  serviceaccounts: [NAME, col('Secrets', 0, (o) => arr(o.secrets).length, 'integer'), AGE],
  events: [
    col('Last Seen', 0, (o) => {
      const t =
        (o.lastTimestamp as string | undefined) ??
        (o.eventTime as string | undefined) ??
        o.metadata?.creationTimestamp;
      return t ? humanDuration(Date.now() - Date.parse(t)) : '<unknown>';
    }),
    col('Type', 0, (o) => (o.type as string | undefined) ?? ''),
    col('Reason', 0, (o) => (o.reason as string | undefined) ?? ''),
    col('Object', 0, (o) => {
      const io = rec(o.involvedObject);
      return `${str(io.kind).toLowerCase()}/${str(io.name)}`;
    }),
    col('Message', 0, (o) => (o.message as string | undefined) ?? ''),
  ],
  'rolebindings.rbac.authorization.k8s.io': [
    NAME,
    col('Role', 0, (o) => `${String(rec(o.roleRef).kind)}/${String(rec(o.roleRef).name)}`),
    AGE,
  ],
  'clusterrolebindings.rbac.authorization.k8s.io': [
    NAME,
    col('Role', 0, (o) => `${String(rec(o.roleRef).kind)}/${String(rec(o.roleRef).name)}`),
    AGE,
  ],
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** A `meta.k8s.io/v1` Table, as the server renders for `kubectl get` without `-o`. */
export function toTable(
  resourceKey: string,
  items: KubeObject[],
  listMeta: Record<string, string>,
  include: IncludeObject,
): object {
  const columns = COLUMNS[resourceKey] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description,
      priority: c.priority,
    })),
    rows: items.map((obj) => ({
      cells: columns.map((c) => c.cell(obj)),
      ...(include === 'None'
        ? {}
        : {
            object:
              include === 'Object'
                ? obj
                : {
                    kind: 'PartialObjectMetadata',
                    apiVersion: 'meta.k8s.io/v1',
                    metadata: obj.metadata,
                  },
          }),
    })),
  };
}
