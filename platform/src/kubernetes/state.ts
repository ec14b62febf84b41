import { randomBytes } from 'node:crypto';
import { createKubeClient, loadKubeConfig } from './client.js';
import { kubernetesPlatformConfigSchema, type KubernetesPlatformConfigInput } from './config.js';
import { createNamespaceList } from './namespace-list.js';
import type { KubernetesPlatformDeps, KubernetesPlatformState } from './types.js';

/** Validates the config (throws on a bad one) and makes the state every module shares. */
export function createPlatformState(
  input: KubernetesPlatformConfigInput,
  deps: KubernetesPlatformDeps,
): KubernetesPlatformState {
  const config = kubernetesPlatformConfigSchema.parse(input);
  const client =
    deps.client ??
    createKubeClient(
      loadKubeConfig({ kubeconfigPath: config.kubeconfigPath, context: config.context }),
      config.requestTimeoutMs,
    );
  const logger = deps.logger.child({ module: 'platform-kubernetes' });
  // First, so that a bad namespaces file fails before a client is made.
  const namespaces = createNamespaceList(config, logger);
  return {
    config,
    labels: config.labels,
    namespaces,
    client,
    ownsClient: !deps.client,
    logger,
    now: deps.now ?? (() => new Date()),
    closing: new AbortController(),
    owner: randomBytes(8).toString('hex'),
    livePods: new Set(),
    consoles: new Set(),
    removals: new Set(),
  };
}
