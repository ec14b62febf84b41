/**
 * Helpers of the chart integration tests: the fake API server seeded with apps as a deploy
 * would leave them, raw requests under a given bearer token, and the chart's rendered configs.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { K8sObject } from '../support/chart.js';
import type { FakeApiServer, KubeObject } from '../support/fake-apiserver/index.js';
import { jsonOrUndefined } from '../support/keys-service.js';

export const APP_LABEL = 'neetodeploy.com/app';
export const PROCESS_LABEL = 'neetodeploy.com/process';

/** An app's web Deployment, config Secret and one running pod, as a deploy leaves them. */
export function seedApp(fake: FakeApiServer, app: string, namespace: string): string {
  // `create` makes the namespace first when it is missing.
  const labels = { [APP_LABEL]: app, [PROCESS_LABEL]: 'web' };
  const container = {
    name: 'web',
    image: 'registry.example/app:1',
    envFrom: [{ secretRef: { name: `${app}-config` } }],
  };
  fake.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${app}-web`, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [container] } },
    },
  });
  fake.create({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: `${app}-config`, namespace, labels: { [APP_LABEL]: app } },
    data: { GREETING: Buffer.from('hello').toString('base64') },
  });
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${app}-web-5d8f7-a1b2c`, namespace, labels },
    spec: { containers: [container] },
  };
  fake.create(pod);
  return pod.metadata!.name!;
}

export interface RawResult {
  readonly status: number;
  readonly text: string;
}

/** One request to the fake API server as the holder of `token` (no client library between). */
export function apiRequest(
  fake: FakeApiServer,
  token: string,
  method: string,
  urlPath: string,
  body?: unknown,
  contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json',
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(
      new URL(urlPath, fake.url),
      {
        method,
        ca: fake.caPem,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': contentType } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export interface JsonResult {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

/**
 * A JSON request to a keys-service over plain HTTP: the chart runs it with `tls.mode: none`
 * behind its Service/Ingress, which is what the test instances reproduce.
 */
export function keysRequest(
  baseUrl: string,
  urlPath: string,
  options: { token?: string; body?: unknown } = {},
): Promise<JsonResult> {
  return new Promise((resolve, reject) => {
    const payload =
      options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const req = http.request(
      new URL(urlPath, baseUrl),
      {
        method: payload ? 'POST' : 'GET',
        agent: false,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, text, json: jsonOrUndefined(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Writes `data` into `dir` as the kubelet lays out a ConfigMap volume (its AtomicWriter): each
 * file is a symlink through `..data` to a timestamped folder, and an update writes a new folder
 * and swaps `..data` in one rename, then removes the old folder. Call again to update.
 */
export function writeConfigMapVolume(dir: string, data: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = `..${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  fs.mkdirSync(path.join(dir, stamp));
  for (const [name, text] of Object.entries(data))
    fs.writeFileSync(path.join(dir, stamp, name), text);
  const dataLink = path.join(dir, '..data');
  const old = fs.existsSync(dataLink) ? fs.readlinkSync(dataLink) : undefined;
  fs.symlinkSync(stamp, path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), dataLink);
  for (const name of Object.keys(data)) {
    const link = path.join(dir, name);
    if (!fs.lstatSync(link, { throwIfNoEntry: false })) fs.symlinkSync(`..data/${name}`, link);
  }
  if (old) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
}

/** The data of the chart's app namespaces ConfigMap (per-app mode), or undefined. */
export function appNamespacesData(
  objects: readonly K8sObject[],
): Record<string, string> | undefined {
  const cm = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-app-namespaces'),
  );
  return cm?.data as Record<string, string> | undefined;
}

/**
 * A rendered `platform` section with its app namespaces file moved into `dir`, where the
 * chart's ConfigMap is written as the kubelet would mount it (unchanged in shared mode).
 */
export function withNamespacesFileIn(
  section: Record<string, unknown>,
  objects: readonly K8sObject[],
  dir: string,
): Record<string, unknown> {
  const namespaces = section.namespaces as Record<string, unknown> | undefined;
  const file = namespaces?.appNamespacesFile;
  if (typeof file !== 'string') return section;
  const data = appNamespacesData(objects);
  if (!data) throw new Error('the chart names an app namespaces file but renders no ConfigMap');
  writeConfigMapVolume(dir, data);
  return {
    ...section,
    namespaces: { ...namespaces, appNamespacesFile: path.join(dir, path.basename(file)) },
  };
}
