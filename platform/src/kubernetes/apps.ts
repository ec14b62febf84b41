/** Apps are the Deployments labelled with the app name; their process types, the process label. */
import type { V1Deployment, V1DeploymentList } from '@kubernetes/client-node';
import { NotFound } from '../errors.js';
import { APP_NAME_PATTERN, type AppInfo } from '../types.js';
import { toAppError } from './client.js';
import { listInAppNamespaces, namespaceOf } from './namespaces.js';
import type { KubernetesPlatformState } from './types.js';

interface Labelled {
  metadata?: { labels?: Record<string, string> };
}

/** The label selector of everything of an app, or of one of its process types. */
export function appSelector({ labels }: KubernetesPlatformState, app: string, process?: string) {
  return process ? `${labels.app}=${app},${labels.process}=${process}` : `${labels.app}=${app}`;
}

/** The process type a Deployment or pod is labelled with. */
export function processOf({ labels }: KubernetesPlatformState, d: Labelled): string | undefined {
  return d.metadata?.labels?.[labels.process];
}

function appInfo(
  state: KubernetesPlatformState,
  app: string,
  deployments: readonly V1Deployment[],
): AppInfo {
  const types = new Set<string>();
  for (const d of deployments) {
    const type = processOf(state, d);
    if (type) types.add(type);
  }
  return { name: app, processTypes: [...types].sort() };
}

async function deploymentsOf(state: KubernetesPlatformState, app: string): Promise<V1Deployment[]> {
  const ns = namespaceOf(state, app);
  try {
    const list = await state.client.request<V1DeploymentList>(
      'GET',
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      { query: { labelSelector: appSelector(state, app) } },
    );
    return list.items;
  } catch (err) {
    throw toAppError(err, `app ${app}`);
  }
}

/** The app and its Deployments; throws BadRequest for an invalid name, NotFound for no app. */
export async function requireApp(
  state: KubernetesPlatformState,
  app: string,
): Promise<{ info: AppInfo; deployments: V1Deployment[] }> {
  const deployments = await deploymentsOf(state, app);
  if (deployments.length === 0) throw new NotFound(`app ${app} not found`);
  return { info: appInfo(state, app, deployments), deployments };
}

export async function listApps(state: KubernetesPlatformState): Promise<AppInfo[]> {
  const { config, labels } = state;
  let deployments: V1Deployment[];
  try {
    deployments = await listInAppNamespaces<V1Deployment>(
      state,
      '/apis/apps/v1',
      'deployments',
      labels.app,
    );
  } catch (err) {
    throw toAppError(err, 'apps');
  }
  const byApp = new Map<string, V1Deployment[]>();
  for (const d of deployments) {
    const app = d.metadata?.labels?.[labels.app];
    if (!app || !APP_NAME_PATTERN.test(app)) continue;
    // Per app mode: a Deployment counts only in its app's own namespace.
    if (
      config.namespaces.mode === 'per-app' &&
      d.metadata?.namespace !== `${config.namespaces.prefix}${app}`
    ) {
      continue;
    }
    byApp.set(app, [...(byApp.get(app) ?? []), d]);
  }
  return [...byApp.keys()].sort().map((app) => appInfo(state, app, byApp.get(app) ?? []));
}
