/** Opens the store the config names: SQLite under the data dir, or the Kubernetes store. */
import type { Logger } from 'pino';
import { BadRequest, createKubeClient, loadKubeConfig } from '@neetodeploy/platform';
import { databasePath } from '../config.js';
import { EVENTS } from '../events.js';
import type { KeysServiceConfig } from '../config.js';
import { openSqliteStore } from './sqlite.js';
import type { KeysStore } from './types.js';
import { openKubernetesStore } from './kubernetes/store.js';
import type { KubernetesKeysStore } from './kubernetes/store.js';

export interface OpenStoreOptions {
  /** The long-running server: SQLite checkpoints its WAL on a worker thread. */
  readonly serving?: boolean;
}

export function openConfiguredStore(
  config: Pick<KeysServiceConfig, 'dataDir' | 'storage'>,
  logger?: Logger,
  options: OpenStoreOptions = {},
): KeysStore | KubernetesKeysStore {
  const storage = config.storage;
  if (storage.type === 'sqlite') {
    return openSqliteStore(databasePath(config), {
      synchronous: storage.synchronous,
      ...(options.serving
        ? {
            backgroundCheckpoints: {
              onError: (message: string) =>
                logger?.error({ event: EVENTS.storeCheckpointFailed }, message),
            },
          }
        : {}),
    });
  }
  let kc;
  try {
    kc = loadKubeConfig({ kubeconfigPath: storage.kubeconfigPath, context: storage.context });
  } catch (err) {
    throw new BadRequest(
      `storage: cannot load cluster credentials (${storage.kubeconfigPath ?? 'in-cluster service account'}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const client = createKubeClient(kc, storage.requestTimeoutMs);
  const namespace = storage.namespace ?? client.defaultNamespace;
  if (!namespace) {
    client.close();
    throw new BadRequest('storage.namespace is required: the cluster credentials name none');
  }
  return openKubernetesStore({
    client,
    namespace,
    auditRetain: storage.auditRetain,
    ...(options.serving ? { readCache: {} } : {}),
    ...(logger ? { logger: logger.child({ module: 'keys-store' }) } : {}),
  });
}

/** The Kubernetes store's boot check (rights in its namespace); nothing to check for SQLite. */
export async function verifyStore(store: KeysStore): Promise<void> {
  if ('verifyAccess' in store && typeof store.verifyAccess === 'function') {
    await (store as KubernetesKeysStore).verifyAccess();
  }
}
