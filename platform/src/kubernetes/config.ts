/**
 * Configuration of the kubernetes platform: a zod schema with defaults, nested by the servers
 * in their own config and validated once at boot.
 */
import * as z from 'zod';

/** A Kubernetes namespace name (RFC 1123 label). */
export const namespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);

const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'a quantity');

const resources = z
  .object({
    requests: z.record(z.string(), quantity).default({ cpu: '100m', memory: '256Mi' }),
    limits: z.record(z.string(), quantity).default({ cpu: '1', memory: '512Mi' }),
  })
  .strict();

export const kubernetesPlatformConfigSchema = z
  .object({
    /** A kubeconfig file; omitted: the in-cluster service account. */
    kubeconfigPath: z.string().min(1).optional(),
    /** Context of the kubeconfig to use (default: its current context). */
    context: z.string().min(1).optional(),
    namespaces: z
      .discriminatedUnion('mode', [
        z
          .object({
            /** One namespace per app, named `<prefix><app>`. */
            mode: z.literal('per-app'),
            prefix: z
              .string()
              .regex(/^([a-z0-9][-a-z0-9]*)?$/)
              .max(40)
              .default(''),
            /**
             * The app namespaces, when known (the Helm chart lists them): listing apps and
             * console pods then reads each of them instead of the whole cluster, so the
             * servers need no cluster-wide rights.
             */
            appNamespaces: z.array(namespaceName).optional(),
            /**
             * A file holding the app namespaces as a JSON array, instead of `appNamespaces`:
             * re-read whenever it changes (a watch on its folder, and a poll as a fallback), so
             * a namespace is onboarded without a restart. The Helm chart mounts it from a
             * ConfigMap of its own, as a folder (not `subPath`) so the kubelet updates it in
             * place. A file that does not parse keeps the last good list.
             */
            appNamespacesFile: z.string().min(1).optional(),
            /** How often the file is polled, in case its folder's watch missed a change. */
            appNamespacesPollMs: z.number().int().min(100).default(10_000),
          })
          .strict()
          .refine((n) => n.appNamespaces === undefined || n.appNamespacesFile === undefined, {
            message: 'set appNamespaces or appNamespacesFile, not both',
            path: ['appNamespacesFile'],
          }),
        z
          .object({
            /** Every app in one namespace. */
            mode: z.literal('shared'),
            namespace: namespaceName,
          })
          .strict(),
      ])
      .default({ mode: 'per-app', prefix: '', appNamespacesPollMs: 10_000 }),
    labels: z
      .object({
        app: z.string().min(1).default('neetodeploy.com/app'),
        process: z.string().min(1).default('neetodeploy.com/process'),
        console: z.string().min(1).default('neetodeploy.com/console'),
        session: z.string().min(1).default('neetodeploy.com/session'),
        /** The app a console pod belongs to (not the app label: see console-pod-spec.ts). */
        consoleApp: z.string().min(1).default('neetodeploy.com/console-app'),
      })
      .strict()
      .default({
        app: 'neetodeploy.com/app',
        process: 'neetodeploy.com/process',
        console: 'neetodeploy.com/console',
        session: 'neetodeploy.com/session',
        consoleApp: 'neetodeploy.com/console-app',
      }),
    /** Name of the Secret holding an app's config vars; `{app}` is replaced. */
    configSecretName: z
      .string()
      .regex(/\{app\}/, 'must contain {app}')
      .default('{app}-config'),
    /** Pod-template annotation bumped for a rolling restart after a config change. */
    restartAnnotation: z.string().min(1).default('neetodeploy.com/restartedAt'),
    console: z
      .object({
        /** Process type whose pod template one-off consoles are made from. */
        defaultProcess: z.string().min(1).default('web'),
        resources: resources.default({
          requests: { cpu: '100m', memory: '256Mi' },
          limits: { cpu: '1', memory: '512Mi' },
        }),
        /** A console pod dies after this, even if nobody deletes it (12 h). */
        activeDeadlineSeconds: z
          .number()
          .int()
          .min(60)
          .default(12 * 3600),
        /** How long to wait for a console pod to run before giving up. */
        startTimeoutMs: z.number().int().min(100).default(120_000),
        /** Mount the service account token into console pods (off: consoles get no API access). */
        automountServiceAccountToken: z.boolean().default(false),
        /** Service account of console pods when tokens are mounted. */
        serviceAccountName: z.string().min(1).optional(),
        /** Forces this uid (the template's non-root uid otherwise). */
        runAsUser: z.number().int().min(1).optional(),
        /** Login shell of interactive consoles; commands always run with `/bin/sh -c`. */
        shell: z.string().min(1).default('/bin/sh'),
        terminationGracePeriodSeconds: z.number().int().min(0).default(5),
        /** Grace between TERM and KILL when a client goes away from an exec into a running pod. */
        stopGraceMs: z.number().int().min(0).default(3000),
      })
      .strict()
      .default({
        defaultProcess: 'web',
        resources: {
          requests: { cpu: '100m', memory: '256Mi' },
          limits: { cpu: '1', memory: '512Mi' },
        },
        activeDeadlineSeconds: 12 * 3600,
        startTimeoutMs: 120_000,
        automountServiceAccountToken: false,
        shell: '/bin/sh',
        terminationGracePeriodSeconds: 5,
        stopGraceMs: 3000,
      }),
    reaper: z
      .object({
        /** How often live console pods get their heartbeat annotation refreshed. */
        heartbeatIntervalMs: z.number().int().min(100).default(60_000),
        /** A console pod not live here and without a heartbeat this recent is an orphan. */
        staleAfterMs: z.number().int().min(100).default(180_000),
        /** Never reap a console pod younger than this (it may still be starting). */
        graceMs: z.number().int().min(0).default(120_000),
        /** Run the reaper periodically (0: only when `reapOrphans()` is called). */
        intervalMs: z.number().int().min(0).default(60_000),
      })
      .strict()
      .default({
        heartbeatIntervalMs: 60_000,
        staleAfterMs: 180_000,
        graceMs: 120_000,
        intervalMs: 60_000,
      }),
    logs: z
      .object({
        /** At most this many pods are followed at once; the user is told past it. */
        maxStreams: z.number().int().min(1).default(50),
        /** Delay before re-opening a log stream that ended while its pod still runs. */
        reconnectDelayMs: z.number().int().min(10).default(500),
      })
      .strict()
      .default({ maxStreams: 50, reconnectDelayMs: 500 }),
    portForward: z
      .object({
        /**
         * A kubelet reports a port nobody listens on only as a message after the forward
         * opened, never as "connected": a forward counts as open once this long passed after
         * the port frames with no refusal (or once the port sent data).
         */
        refusalWaitMs: z.number().int().min(0).max(10_000).default(150),
      })
      .strict()
      .default({ refusalWaitMs: 150 }),
    /** Per-request timeout of REST calls to the API server. */
    requestTimeoutMs: z.number().int().min(100).default(15_000),
    /** Retries of a config update that lost a race (409) to another writer. */
    maxConflictRetries: z.number().int().min(1).default(30),
  })
  .strict();

export type KubernetesPlatformConfig = z.infer<typeof kubernetesPlatformConfigSchema>;
export type KubernetesPlatformConfigInput = z.input<typeof kubernetesPlatformConfigSchema>;

/**
 * The config with its file paths (kubeconfig, namespaces file) resolved by `abs`, for servers
 * that resolve paths against their config file's folder.
 */
export function resolveKubernetesPaths<T extends KubernetesPlatformConfig>(
  config: T,
  abs: (p: string) => string,
): T {
  const ns = config.namespaces;
  return {
    ...config,
    kubeconfigPath: config.kubeconfigPath === undefined ? undefined : abs(config.kubeconfigPath),
    namespaces:
      ns.mode === 'per-app' && ns.appNamespacesFile !== undefined
        ? { ...ns, appNamespacesFile: abs(ns.appNamespacesFile) }
        : ns,
  };
}
