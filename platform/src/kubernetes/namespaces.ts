/** Where an app lives: a namespace per app (`<prefix><app>`) or one shared namespace. */
import { checkAppName } from '../app-name.js';
import { BadRequest } from '../errors.js';
import type { KubernetesPlatformState } from './types.js';

/** The namespace of an app; throws BadRequest for an invalid name or one too long for it. */
export function namespaceOf({ config }: KubernetesPlatformState, app: string): string {
  checkAppName(app);
  if (config.namespaces.mode === 'shared') return config.namespaces.namespace;
  const ns = `${config.namespaces.prefix}${app}`;
  if (ns.length > 63) throw new BadRequest(`app name ${app} is too long for this platform`);
  return ns;
}

/**
 * Lists `resource` wherever apps may live: the shared namespace; in per-app mode one list per
 * app namespace known right now (`state.namespaces`, which follows the namespaces file), or one
 * cluster-wide list when they are not configured (which needs a ClusterRole). Per-app lists may
 * hold objects of namespaces that are no app's: callers filter.
 */
export async function listInAppNamespaces<T>(
  { namespaces: known, client }: KubernetesPlatformState,
  apiPrefix: string,
  resource: string,
  labelSelector: string,
): Promise<T[]> {
  const namespaces = known.current();
  const paths = namespaces
    ? namespaces.map((ns) => `${apiPrefix}/namespaces/${ns}/${resource}`)
    : [`${apiPrefix}/${resource}`];
  const lists = await Promise.all(
    paths.map((p) => client.request<{ items: T[] }>('GET', p, { query: { labelSelector } })),
  );
  return lists.flatMap((l) => l.items);
}
