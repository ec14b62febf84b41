/**
 * The one-off console pod, built from an app's pod template. Pure functions so the rules about
 * what a template may and may not carry over are unit-testable.
 */
import type {
  V1Container,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Pod,
  V1EnvVar,
  V1SecurityContext,
  V1Toleration,
  V1Volume,
} from '@kubernetes/client-node';
import type { KubernetesPlatformConfig } from './config.js';

export interface ConsolePodRequest {
  readonly app: string;
  readonly namespace: string;
  readonly process: string;
  readonly template: V1PodTemplateSpec;
  readonly sessionId: string;
  /** Random suffix of the pod name. */
  readonly suffix: string;
  readonly user: string;
  readonly configSecret: string;
  readonly now: Date;
}

/** Annotations of console pods. */
export const ANNOTATIONS = {
  user: 'neetodeploy.com/user',
  heartbeat: 'neetodeploy.com/heartbeat',
  owner: 'neetodeploy.com/owner',
} as const;

/**
 * Volume sources a console may keep: what the chart's admission policy allows (an allow-list),
 * nothing from the node, no claims or CSI drivers, and of Secrets only the app's config Secret
 * (any other could be another app's, or a service-account token).
 */
const SAFE_VOLUME_SOURCES = new Set([
  'configMap',
  'secret',
  'emptyDir',
  'downwardAPI',
  'projected',
]);

/** Label values are at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends. */
export function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}

function keepVolume(volume: V1Volume, configSecret: string): boolean {
  const sources = Object.keys(volume).filter((k) => k !== 'name');
  if (sources.length !== 1 || !SAFE_VOLUME_SOURCES.has(sources[0]!)) return false;
  if (volume.secret) return volume.secret.secretName === configSecret;
  return (volume.projected?.sources ?? []).every(
    (s) =>
      s.configMap !== undefined ||
      s.downwardAPI !== undefined ||
      (s.secret !== undefined && s.secret.name === configSecret),
  );
}

/** Env entries that read no Secret but the config Secret (the admission policy's rule). */
function keepEnv(env: readonly V1EnvVar[] | undefined, configSecret: string): V1EnvVar[] {
  return (env ?? []).filter((e) => {
    const ref = e.valueFrom?.secretKeyRef;
    return ref === undefined || ref.name === configSecret;
  });
}

/**
 * Tolerations a console may copy: keyed ones. A toleration without a key tolerates every taint
 * and control-plane ones would schedule a console beside the API server; the policy refuses both.
 */
function keepTolerations(tolerations: readonly V1Toleration[] | undefined): V1Toleration[] {
  return (tolerations ?? []).filter(
    (t) => !!t.key && !t.key.startsWith('node-role.kubernetes.io/'),
  );
}

/** The container security context no template can loosen. */
function containerSecurity(
  from: V1SecurityContext | undefined,
  runAsUser: number | undefined,
): V1SecurityContext {
  const uid = runAsUser ?? (from?.runAsUser && from.runAsUser > 0 ? from.runAsUser : undefined);
  const gid = from?.runAsGroup && from.runAsGroup > 0 ? from.runAsGroup : undefined;
  return {
    ...(uid !== undefined ? { runAsUser: uid } : {}),
    ...(gid !== undefined ? { runAsGroup: gid } : {}),
    ...(from?.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    runAsNonRoot: true,
    privileged: false,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * A console pod: the template's first container (image, env, envFrom, working dir, safe
 * volume mounts) with an idle command, console labels, a deadline, no API token and a locked
 * down security context. Labels deliberately exclude the app and process labels: a pod that
 * matched its Deployment's selector would be adopted (and scaled away) by the ReplicaSet.
 */
export function buildConsolePod(
  request: ConsolePodRequest,
  config: KubernetesPlatformConfig,
): V1Pod {
  const spec: V1PodSpec = request.template.spec ?? { containers: [] };
  const source: V1Container | undefined = spec.containers[0];
  if (!source?.image) throw new Error(`the ${request.process} pod template has no container image`);
  const volumes = (spec.volumes ?? []).filter((v) => keepVolume(v, request.configSecret));
  const kept = new Set(volumes.map((v) => v.name));
  const deadline = config.console.activeDeadlineSeconds;
  // Other Secrets (database passwords, other apps') stay out of consoles: the bastion that
  // creates them must not be a way to read them.
  const envFrom = (source.envFrom ?? []).filter(
    (e) => e.secretRef === undefined || e.secretRef.name === request.configSecret,
  );
  const env = keepEnv(source.env, request.configSecret);
  if (!envFrom.some((e) => e.secretRef?.name === request.configSecret)) {
    envFrom.push({ secretRef: { name: request.configSecret, optional: true } });
  }
  const podSecurity = spec.securityContext;
  const container: V1Container = {
    name: source.name || 'console',
    image: source.image,
    ...(source.imagePullPolicy ? { imagePullPolicy: source.imagePullPolicy } : {}),
    ...(source.workingDir ? { workingDir: source.workingDir } : {}),
    ...(env.length > 0 ? { env } : {}),
    envFrom,
    // PID 1 ignores TERM unless it handles it: trap it so a delete ends the pod at once.
    command: ['/bin/sh', '-c', `trap 'exit 0' TERM; sleep ${deadline} & wait`],
    resources: {
      requests: { ...config.console.resources.requests },
      limits: { ...config.console.resources.limits },
    },
    volumeMounts: (source.volumeMounts ?? []).filter((m) => kept.has(m.name)),
    securityContext: containerSecurity(source.securityContext, config.console.runAsUser),
    stdin: false,
    tty: false,
  };
  const labels = config.labels;
  const automount = config.console.automountServiceAccountToken;
  const name = `${request.app.slice(0, 63 - 17)}-console-${request.suffix}`.slice(0, 63);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: request.namespace,
      labels: {
        [labels.consoleApp]: request.app,
        [labels.console]: 'true',
        [labels.session]: labelValue(request.sessionId) || 'unknown',
      },
      annotations: {
        [ANNOTATIONS.user]: request.user,
        [ANNOTATIONS.heartbeat]: request.now.toISOString(),
        'neetodeploy.com/process': request.process,
        'neetodeploy.com/session-id': request.sessionId,
      },
    },
    spec: {
      containers: [container],
      restartPolicy: 'Never',
      activeDeadlineSeconds: deadline,
      terminationGracePeriodSeconds: config.console.terminationGracePeriodSeconds,
      automountServiceAccountToken: automount,
      ...(automount && config.console.serviceAccountName
        ? { serviceAccountName: config.console.serviceAccountName }
        : {}),
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
      securityContext: {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
        ...(podSecurity?.fsGroup !== undefined ? { fsGroup: podSecurity.fsGroup } : {}),
        ...(podSecurity?.runAsUser && podSecurity.runAsUser > 0 && !config.console.runAsUser
          ? { runAsUser: podSecurity.runAsUser }
          : {}),
        ...(config.console.runAsUser ? { runAsUser: config.console.runAsUser } : {}),
      },
      volumes,
      ...(spec.imagePullSecrets ? { imagePullSecrets: spec.imagePullSecrets } : {}),
      ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
      ...(spec.tolerations ? { tolerations: keepTolerations(spec.tolerations) } : {}),
      ...(spec.affinity ? { affinity: spec.affinity } : {}),
    },
  };
}
