/**
 * The Pod Security Standards checks (k8s.io/pod-security-admission, policy version "latest")
 * that Pod Security Admission enforces on pods of a namespace labelled
 * `pod-security.kubernetes.io/enforce=<level>`. Messages follow the real ones
 * (`<check> (<detail>)`), joined by the caller.
 *
 * Not modelled: AppArmor annotations/fields, SELinux options, Windows pods, /proc mount types
 * other than Default, and the version pinning of older policy versions.
 */
import type { KubeObject } from './types.js';
import type { Rec } from './json.js';

export type PodSecurityLevel = 'baseline' | 'restricted';

interface Container extends Rec {
  name?: string;
  securityContext?: Rec;
  ports?: Rec[];
}

const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

const quoted = (names: string[]): string => names.map((n) => `"${n}"`).join(', ');
const containersOf = (spec: Rec): Container[] => [
  ...((spec.initContainers ?? []) as Container[]),
  ...((spec.containers ?? []) as Container[]),
  ...((spec.ephemeralContainers ?? []) as Container[]),
];

/** The baseline checks: what any pod may not do to its node. */
function baseline(spec: Rec, containers: Container[]): string[] {
  const out: string[] = [];
  const host = ['hostNetwork', 'hostPID', 'hostIPC'].filter((k) => spec[k] === true);
  if (host.length > 0) out.push(`host namespaces (${host.map((h) => `${h}=true`).join(', ')})`);
  const privileged = containers.filter((c) => c.securityContext?.privileged === true);
  if (privileged.length > 0)
    out.push(
      `privileged (containers ${quoted(privileged.map((c) => c.name ?? ''))} must not set securityContext.privileged=true)`,
    );
  const addsCaps = containers.filter((c) =>
    (((c.securityContext?.capabilities as Rec | undefined)?.add ?? []) as string[]).some(
      (cap) => !BASELINE_CAPABILITIES.has(cap),
    ),
  );
  if (addsCaps.length > 0)
    out.push(
      `non-default capabilities (containers ${quoted(addsCaps.map((c) => c.name ?? ''))} must not include added capabilities)`,
    );
  const hostPath = ((spec.volumes ?? []) as Rec[]).filter((v) => v.hostPath !== undefined);
  if (hostPath.length > 0)
    out.push(`hostPath volumes (volumes ${quoted(hostPath.map((v) => String(v.name)))})`);
  const hostPorts = containers.filter((c) =>
    (c.ports ?? []).some((p) => typeof p.hostPort === 'number' && p.hostPort !== 0),
  );
  if (hostPorts.length > 0)
    out.push(`hostPort (containers ${quoted(hostPorts.map((c) => c.name ?? ''))} use hostPorts)`);
  const podSc = (spec.securityContext ?? {}) as Rec;
  const unconfined = [podSc, ...containers.map((c) => c.securityContext ?? {})].some(
    (sc) => (sc.seccompProfile as Rec | undefined)?.type === 'Unconfined',
  );
  if (unconfined) out.push('seccompProfile (must not set type to "Unconfined")');
  const sysctls = ((podSc.sysctls ?? []) as Rec[]).filter((s) => !SAFE_SYSCTLS.has(String(s.name)));
  if (sysctls.length > 0)
    out.push(`forbidden sysctls (${sysctls.map((s) => String(s.name)).join(', ')})`);
  return out;
}

/** The restricted checks on top of baseline: hardened, non-root, minimal volume types. */
function restricted(spec: Rec, containers: Container[]): string[] {
  const out: string[] = [];
  const badVolumes = ((spec.volumes ?? []) as Rec[]).filter(
    (v) => !Object.keys(v).some((k) => k !== 'name' && RESTRICTED_VOLUMES.has(k)),
  );
  if (badVolumes.length > 0)
    out.push(
      `restricted volume types (volumes ${quoted(badVolumes.map((v) => String(v.name)))} use restricted volume types)`,
    );
  const escalating = containers.filter(
    (c) => c.securityContext?.allowPrivilegeEscalation !== false,
  );
  if (escalating.length > 0)
    out.push(
      `allowPrivilegeEscalation != false (containers ${quoted(escalating.map((c) => c.name ?? ''))} must set securityContext.allowPrivilegeEscalation=false)`,
    );
  const notDropAll = containers.filter(
    (c) =>
      !(((c.securityContext?.capabilities as Rec | undefined)?.drop ?? []) as string[]).includes(
        'ALL',
      ),
  );
  const addsMore = containers.filter((c) =>
    (((c.securityContext?.capabilities as Rec | undefined)?.add ?? []) as string[]).some(
      (cap) => cap !== 'NET_BIND_SERVICE',
    ),
  );
  if (notDropAll.length > 0 || addsMore.length > 0)
    out.push(
      `unrestricted capabilities (containers ${quoted([...new Set([...notDropAll, ...addsMore].map((c) => c.name ?? ''))])} must set securityContext.capabilities.drop=["ALL"] and add only NET_BIND_SERVICE)`,
    );
  const podSc = (spec.securityContext ?? {}) as Rec;
  const podNonRoot = podSc.runAsNonRoot === true;
  const root = containers.filter(
    (c) =>
      c.securityContext?.runAsNonRoot === false ||
      (!podNonRoot && c.securityContext?.runAsNonRoot !== true),
  );
  if (podSc.runAsNonRoot === false || root.length > 0)
    out.push(
      `runAsNonRoot != true (pod or containers ${quoted(root.map((c) => c.name ?? ''))} must set securityContext.runAsNonRoot=true)`,
    );
  const uid0 = podSc.runAsUser === 0 || containers.some((c) => c.securityContext?.runAsUser === 0);
  if (uid0) out.push('runAsUser=0 (pod and containers must not set runAsUser=0)');
  const okProfile = (sc: Rec | undefined): boolean | undefined => {
    const type = (sc?.seccompProfile as Rec | undefined)?.type;
    return type === undefined ? undefined : type === 'RuntimeDefault' || type === 'Localhost';
  };
  const podProfile = okProfile(podSc);
  const noSeccomp = containers.filter((c) => {
    const own = okProfile(c.securityContext);
    return own === false || (own === undefined && podProfile !== true);
  });
  if (noSeccomp.length > 0)
    out.push(
      `seccompProfile (pod or containers ${quoted(noSeccomp.map((c) => c.name ?? ''))} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`,
    );
  return out;
}

/** The violations of `level` by a pod, in the order the real admission lists them. */
export function podSecurityViolations(pod: KubeObject, level: PodSecurityLevel): string[] {
  const spec = (pod.spec ?? {}) as Rec;
  const containers = containersOf(spec);
  const out = baseline(spec, containers);
  return level === 'restricted' ? [...out, ...restricted(spec, containers)] : out;
}
