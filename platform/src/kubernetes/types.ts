/**
 * The contract of the kubernetes platform: what it offers beyond {@link Platform}, what it is
 * built from, and the state its modules share. Every module is a set of functions of
 * {@link KubernetesPlatformState}; `state.ts` creates that state once and `platform.ts` wires them.
 */
import type { Logger } from 'pino';
import type { Platform } from '../types.js';
import type { KubeClient } from './client.js';
import type { KubernetesPlatformConfig } from './config.js';
import type { ExecConsole } from './exec.js';
import type { NamespaceList } from './namespace-list.js';

export interface KubernetesPlatformDeps {
  readonly logger: Logger;
  /** A ready client (tests); default: one made from the config's kubeconfig or in-cluster. */
  readonly client?: KubeClient;
  readonly now?: () => Date;
}

export interface KubernetesPlatform extends Platform {
  readonly config: KubernetesPlatformConfig;
  /** The namespace of an app (the name is validated). */
  namespaceOf(app: string): string;
  /**
   * Deletes console pods whose session is not live in this process, that are older than the
   * grace period and whose heartbeat is stale (or that already ended). Returns their names.
   */
  reapOrphans(): Promise<string[]>;
  /**
   * The app namespaces listed for apps and console pods right now (per-app mode; the shared
   * namespace in shared mode); undefined when not configured (listing is cluster-wide).
   */
  appNamespaces(): readonly string[] | undefined;
  /**
   * Onboards or removes app namespaces at runtime (per-app mode; ignored in shared mode): the
   * next listing uses them. With `appNamespacesFile` configured, the file's next change
   * replaces this list again.
   */
  setAppNamespaces(namespaces: readonly string[]): void;
}

/** What the modules of one kubernetes platform share; made once by `createPlatformState`. */
export interface KubernetesPlatformState {
  readonly config: KubernetesPlatformConfig;
  readonly labels: KubernetesPlatformConfig['labels'];
  /** Where apps may live, kept current at runtime (config, caller or a watched file). */
  readonly namespaces: NamespaceList;
  readonly client: KubeClient;
  /** The platform made its client, so `close()` closes it (a client from deps is the caller's). */
  readonly ownsClient: boolean;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Aborted by `close()`: nothing new starts, waits and log streams end. */
  readonly closing: AbortController;
  /** Marks this process's console pods (an annotation), so other replicas can tell them apart. */
  readonly owner: string;
  /** Live one-off console pods of this process, `namespace/name`: heartbeats, never reaped. */
  readonly livePods: Set<string>;
  /** Open consoles, killed by `close()`. */
  readonly consoles: Set<ExecConsole>;
  /** Console pod deletions under way, awaited by `close()`. */
  readonly removals: Set<Promise<void>>;
}
