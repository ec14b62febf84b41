import { randomBytes } from 'node:crypto';
import type { ExecManager } from './exec.js';
import type { LogBook } from './logs.js';
import { resourceByKey } from './resources.js';
import type { ObjectStore, StoreEvent } from './store.js';
import type { KubeletOptions, KubeObject, PodPhase, SetPodPhaseOptions } from './types.js';
import { str, type Rec } from './json.js';

const PODS = resourceByKey('pods');

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function podContainers(pod: KubeObject): { name: string; image: string }[] {
  const spec = (pod.spec ?? {}) as Rec;
  return ((spec.containers as Rec[] | undefined) ?? []).map((c) => ({
    name: str(c.name),
    image: str(c.image),
  }));
}

/** `status` of a freshly created pod: scheduled, containers being created. */
export function pendingStatus(pod: KubeObject): Rec {
  return {
    phase: 'Pending',
    conditions: [
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() },
    ],
    qosClass: 'BestEffort',
    containerStatuses: podContainers(pod).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: false,
      restartCount: 0,
      started: false,
      state: { waiting: { reason: 'ContainerCreating' } },
      lastState: {},
    })),
  };
}

/**
 * A tiny kubelet: starts pods after a delay, enforces `activeDeadlineSeconds`, finishes
 * graceful deletions, and lets tests drive phases and restarts. When pods stop or go away,
 * their exec processes are killed and their log followers end.
 */
export class Kubelet {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private podIpCounter = 10;

  constructor(
    private readonly store: ObjectStore,
    private readonly logs: LogBook,
    private readonly execs: ExecManager,
    private readonly opts: KubeletOptions,
  ) {
    this.unsubscribe = store.subscribe((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      try {
        fn();
      } catch {
        // The pod changed or went away meanwhile: nothing to do.
      }
    }, ms);
    this.timers.add(t);
  }

  private onEvent(e: StoreEvent): void {
    if (e.key !== 'pods') return;
    const ns = e.object.metadata?.namespace ?? '';
    const name = e.object.metadata?.name ?? '';
    if (e.type === 'ADDED' && this.opts.startDelayMs !== false) {
      const uid = e.object.metadata?.uid;
      this.later(this.opts.startDelayMs, () => {
        const pod = this.store.get(PODS, ns, name);
        const phase = (pod?.status as Rec | undefined)?.phase;
        if (
          pod &&
          pod.metadata?.uid === uid &&
          phase === 'Pending' &&
          !pod.metadata?.deletionTimestamp
        ) {
          this.setPhase(ns, name, 'Running');
        }
      });
    }
    if (e.type === 'DELETED') {
      this.execs.killPod(ns, name);
      this.logs.forget(ns, name);
    }
  }

  private mutate(ns: string, name: string, fn: (pod: KubeObject, status: Rec) => void): KubeObject {
    const pod = this.store.mustGet(PODS, ns, name);
    const status = (pod.status as Rec | undefined) ?? {};
    fn(pod, status);
    pod.status = status;
    return this.store.update(PODS, pod);
  }

  setPhase(ns: string, name: string, phase: PodPhase, o: SetPodPhaseOptions = {}): void {
    const pod = this.mutate(ns, name, (p, status) => {
      const t = now();
      const spec = (p.spec ?? {}) as Rec;
      status.phase = phase;
      if (o.reason) status.reason = o.reason;
      else delete status.reason;
      if (o.message) status.message = o.message;
      else delete status.message;
      const running = phase === 'Running';
      const finished = phase === 'Succeeded' || phase === 'Failed';
      if (running || finished) {
        spec.nodeName ??= 'fake-node';
        p.spec = spec;
        status.hostIP ??= '10.0.0.1';
        status.podIP ??= `10.244.0.${this.podIpCounter++ % 250}`;
        status.podIPs = [{ ip: status.podIP }];
        status.startTime ??= t;
      }
      const cond = (type: string, ok: boolean): Rec => ({
        type,
        status: ok ? 'True' : 'False',
        lastProbeTime: null,
        lastTransitionTime: t,
      });
      status.conditions = [
        cond('PodReadyToStartContainers', running || finished),
        cond('Initialized', true),
        cond('Ready', running),
        cond('ContainersReady', running),
        cond('PodScheduled', true),
      ];
      const previous = new Map(
        ((status.containerStatuses as Rec[] | undefined) ?? []).map((c) => [String(c.name), c]),
      );
      status.containerStatuses = podContainers(p).map((c) => {
        const prev = previous.get(c.name) ?? {};
        const startedAt =
          ((prev.state as Rec | undefined)?.running as Rec | undefined)?.startedAt ?? t;
        const exitCode = o.exitCode ?? (phase === 'Failed' ? 1 : 0);
        return {
          name: c.name,
          image: c.image,
          imageID:
            running || finished ? `docker.io/library/${c.image}@sha256:${'0'.repeat(64)}` : '',
          containerID:
            running || finished
              ? (prev.containerID ?? `containerd://${randomBytes(32).toString('hex')}`)
              : undefined,
          ready: running,
          started: running,
          restartCount: Number(prev.restartCount ?? 0),
          state: running
            ? { running: { startedAt } }
            : finished
              ? {
                  terminated: {
                    exitCode,
                    reason:
                      o.reason === 'DeadlineExceeded'
                        ? 'Error'
                        : exitCode === 0
                          ? 'Completed'
                          : 'Error',
                    startedAt,
                    finishedAt: t,
                    containerID: prev.containerID,
                  },
                }
              : { waiting: { reason: o.reason ?? 'ContainerCreating' } },
          lastState: prev.lastState ?? {},
        };
      });
    });
    if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Unknown') {
      this.execs.killPod(ns, name);
      this.logs.stop(ns, name);
    }
    if (phase === 'Running' && this.opts.enforceActiveDeadline) this.armDeadline(pod);
  }

  private armDeadline(pod: KubeObject): void {
    const deadline = Number(((pod.spec ?? {}) as Rec).activeDeadlineSeconds);
    if (!Number.isFinite(deadline) || deadline <= 0) return;
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const uid = pod.metadata?.uid;
    const started = Date.parse(
      str((pod.status as Rec | undefined)?.startTime, new Date().toISOString()),
    );
    this.later(Math.max(0, started + deadline * 1000 - Date.now()), () => {
      const current = this.store.get(PODS, ns, name);
      if (!current || current.metadata?.uid !== uid) return;
      const phase = (current.status as Rec | undefined)?.phase;
      if (phase !== 'Running' && phase !== 'Pending') return;
      this.setPhase(ns, name, 'Failed', {
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
        exitCode: 137,
      });
      if (this.opts.deleteOnDeadline) this.store.delete(PODS, ns, name);
    });
  }

  restart(ns: string, name: string, container?: string): void {
    const pod = this.store.mustGet(PODS, ns, name);
    const target = container ?? podContainers(pod)[0]?.name ?? '';
    this.mutate(ns, name, (_p, status) => {
      const t = now();
      for (const cs of (status.containerStatuses as Rec[] | undefined) ?? []) {
        if (cs.name !== target) continue;
        const startedAt =
          ((cs.state as Rec | undefined)?.running as Rec | undefined)?.startedAt ?? t;
        cs.lastState = {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            startedAt,
            finishedAt: t,
            containerID: cs.containerID,
          },
        };
        cs.restartCount = Number(cs.restartCount ?? 0) + 1;
        cs.containerID = `containerd://${randomBytes(32).toString('hex')}`;
        cs.state = { running: { startedAt: t } };
      }
    });
    this.logs.restart(ns, name, target);
  }

  /** A graceful delete: deletionTimestamp now, gone after the termination delay. */
  beginDeletion(ns: string, name: string, graceSeconds: number): KubeObject {
    const pod = this.store.mustGet(PODS, ns, name);
    if (!pod.metadata?.deletionTimestamp) {
      pod.metadata = {
        ...pod.metadata,
        deletionTimestamp: new Date(Date.now() + graceSeconds * 1000)
          .toISOString()
          .replace(/\.\d+Z$/, 'Z'),
        deletionGracePeriodSeconds: graceSeconds,
      };
      const updated = this.store.update(PODS, pod);
      // Containers get their stop signal at once; the object lingers as Terminating.
      this.execs.killPod(ns, name);
      this.logs.stop(ns, name);
      const uid = updated.metadata?.uid;
      this.later(this.opts.terminationDelayMs, () => {
        const current = this.store.get(PODS, ns, name);
        if (current && current.metadata?.uid === uid) this.store.delete(PODS, ns, name);
      });
      return updated;
    }
    return pod;
  }
}
