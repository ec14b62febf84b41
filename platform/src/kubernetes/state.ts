import { randomBytes } from 'node:crypto';
import { createKubeClient, loadKubeConfig } from './client.js';
import { kubernetesPlatformConfigSchema, type KubernetesPlatformConfigInput } from './config.js';
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
  return {
    config,
    labels: config.labels,
    client,
    ownsClient: !deps.client,
    logger: deps.logger.child({ module: 'platform-kubernetes' }),
    now: deps.now ?? (() => new Date()),
    closing: new AbortController(),
    owner: randomBytes(8).toString('hex'),
    livePods: new Set(),
    consoles: new Set(),
    removals: new Set(),
  };
}
