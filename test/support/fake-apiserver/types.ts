/**
 * Contract of the fake Kubernetes API server used by tests (and by `npm run fake-apiserver`).
 * It speaks the real wire protocols for the subset of the API this project uses, so that the
 * real `kubectl` and `@kubernetes/client-node` cannot tell it from a cluster.
 */

import type { ExecSessionInfo } from './exec.js';
import type { PortForwardInfo } from './portforward.js';

export type { ExecSessionInfo, PortForwardInfo };

/** A Kubernetes object as JSON. Fields are read defensively: the fake stores what it is sent. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** The `metav1.Status` object the real API server returns for errors. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
  code: number;
}

/** Who made a request, as the authenticator resolved it from the bearer token. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
}

/** A pod phase as `status.phase` spells it. */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

/** Simulated kubelet behaviour. */
export interface KubeletOptions {
  /** Mark newly created pods Running after this many ms; `false` leaves them Pending. */
  startDelayMs: number | false;
  /** Fail pods past `spec.activeDeadlineSeconds` (phase Failed, reason DeadlineExceeded). */
  enforceActiveDeadline: boolean;
  /** Also delete pods that hit their active deadline (a real kubelet leaves them Failed). */
  deleteOnDeadline: boolean;
  /** Delay between a graceful pod delete (deletionTimestamp set) and the pod going away. */
  terminationDelayMs: number;
}

export interface FakeApiServerOptions {
  /** Port to listen on (127.0.0.1 only); 0 picks a free one. */
  port?: number;
  /** Directory for kubeconfigs and per-pod working dirs; a fresh temp dir when omitted. */
  dataDir?: string;
  /** Multi-document YAML with Roles, ClusterRoles and bindings loaded at start. */
  rbacYaml?: string;
  /**
   * Multi-document YAML with ValidatingAdmissionPolicies and their bindings, enforced (with Pod
   * Security Admission on labelled namespaces, which is always on) on writes made through the
   * API; the test hooks (`create`, `update`, `delete`) bypass admission as they bypass RBAC.
   */
  admissionYaml?: string;
  kubelet?: Partial<KubeletOptions>;
  /** Exec subprotocols the server accepts, in its order of preference among the client's. */
  execProtocols?: readonly string[];
  /** Watch events kept for resuming watches; older resourceVersions get 410 Expired. */
  watchHistory?: number;
  /** Interval of BOOKMARK events on watches that ask for them. */
  bookmarkIntervalMs?: number;
  /** Version reported by `/version`. */
  gitVersion?: string;
  /** Optional logger (pino-compatible); silent when omitted. */
  logger?: FakeLogger;
}

/** The subset of a pino logger the fake uses. */
export interface FakeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** One request the fake served, for tests that assert which calls a client made. */
export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  user: string | undefined;
  verb: string | undefined;
  status: number;
  /** The client's `User-Agent` header, as audit logs of a real cluster record it. */
  userAgent: string | undefined;
}

export interface SetPodPhaseOptions {
  reason?: string;
  message?: string;
  /** Exit code recorded on terminated containers (Succeeded → 0 by default, Failed → 1). */
  exitCode?: number;
}

/** A running fake API server. */
export interface FakeApiServer {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** PEM of the CA that signed the serving certificate (also embedded in kubeconfigs). */
  readonly caPem: string;
  readonly dataDir: string;
  /** Well-known tokens: `admin` is in `system:masters` and bypasses RBAC. */
  readonly tokens: { readonly admin: string };
  /**
   * Writes (once per user and namespace) a kubeconfig for `username` (default `admin`) and
   * returns its path. The user must have a token (`addUser`, `serviceAccountToken`).
   */
  kubeconfigPath(username?: string, namespace?: string): string;
  /** Registers a user and returns its bearer token. */
  addUser(username: string, groups?: string[]): string;
  /** Creates the ServiceAccount if missing and returns a token for it. */
  serviceAccountToken(namespace: string, name: string): string;
  /** Loads Roles/ClusterRoles/RoleBindings/ClusterRoleBindings (multi-document YAML). */
  loadRbacYaml(text: string): void;
  /** Loads ValidatingAdmissionPolicies and bindings (multi-document YAML; other kinds ignored). */
  loadAdmissionYaml(text: string): void;
  /** Creates an object as the admin, bypassing RBAC (namespaces first when needed). */
  create(obj: KubeObject): KubeObject;
  /** Reads an object; `resource` is the plural, with `.group` for non-core groups. */
  get(resource: string, namespace: string, name: string): KubeObject | undefined;
  list(resource: string, namespace?: string): KubeObject[];
  /** Read-modify-write as a controller would (bumps resourceVersion, notifies watches). */
  update(
    resource: string,
    namespace: string,
    name: string,
    mutate: (obj: KubeObject) => void,
  ): KubeObject;
  delete(resource: string, namespace: string, name: string): void;
  /** Drives a pod's phase (container states follow). */
  setPodPhase(namespace: string, name: string, phase: PodPhase, opts?: SetPodPhaseOptions): void;
  /** Simulates a container restart: restartCount+1, current log becomes `previous`. */
  restartContainer(namespace: string, name: string, container?: string): void;
  /** Appends one line to a container's log (what the container printed). */
  appendPodLog(namespace: string, pod: string, container: string | undefined, line: string): void;
  /** The working directory exec'd processes of a pod run in. */
  podWorkDir(namespace: string, pod: string): string;
  /** `logs -f` streams currently following a container. */
  activeLogFollows(): number;
  /** Lines selected for `logs -f` readers but not yet written (they are not reading). */
  unwrittenLogLines(): number;
  /**
   * Makes the pod's `containerPort` (what `pods/portforward` dials on the pod's loopback) reach
   * the real listener on `127.0.0.1:realPort`; `undefined` unmaps it (then nothing listens).
   * A pod listens on nothing until mapped; the map goes with the pod.
   */
  setPodPort(namespace: string, pod: string, containerPort: number, realPort?: number): void;
  /** Port-forward websockets currently open. */
  activePortForwards(): number;
  /** Details of the open port forwards (pod, ports, protocol, user). */
  portForwards(): PortForwardInfo[];
  /** Exec sessions currently running. */
  activeExecs(): number;
  /** Details of the running exec sessions (command, protocol, terminal size). */
  execSessions(): ExecSessionInfo[];
  /** Drops the watch history: watches resuming from an older resourceVersion get 410. */
  compactWatchHistory(): void;
  /** Current (latest) resourceVersion. */
  currentResourceVersion(): string;
  readonly requests: RequestRecord[];
  stop(): Promise<void>;
}
