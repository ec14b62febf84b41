import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AdmissionController } from './admission.js';
import { ADMIN_USER, MASTERS_GROUP, TokenAuthenticator } from './auth.js';
import { EXEC_PROTOCOLS, ExecManager } from './exec.js';
import { Kubelet } from './kubelet.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { LogBook } from './logs.js';
import { podDir } from './pods.js';
import { PortForwardManager } from './portforward.js';
import { RbacAuthorizer, rbacObjectsFromYaml } from './rbac.js';
import { ApiHandler } from './rest.js';
import { resourceByKey, resourceForObject } from './resources.js';
import { ObjectStore } from './store.js';
import { makeServingCertificate } from './tls.js';
import type {
  FakeApiServer,
  FakeApiServerOptions,
  KubeletOptions,
  KubeObject,
  RequestRecord,
} from './types.js';

const DEFAULT_KUBELET: KubeletOptions = {
  startDelayMs: 50,
  enforceActiveDeadline: true,
  deleteOnDeadline: false,
  terminationDelayMs: 100,
};

/**
 * Starts the fake API server on 127.0.0.1 over HTTPS (a CA made at start, embedded in the
 * kubeconfigs it writes), with the `default` namespace and an admin token.
 */
export async function startFakeApiServer(
  options: FakeApiServerOptions = {},
): Promise<FakeApiServer> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'fake-apiserver-'));
  mkdirSync(dataDir, { recursive: true });
  const kubelet: KubeletOptions = { ...DEFAULT_KUBELET, ...options.kubelet };
  const store = new ObjectStore(options.watchHistory ?? 10_000);
  const auth = new TokenAuthenticator();
  const logs = new LogBook();
  const execs = new ExecManager();
  const forwards = new PortForwardManager();
  const rbac = new RbacAuthorizer(store);
  const admission = new AdmissionController(store);
  const requests: RequestRecord[] = [];
  const kl = new Kubelet(store, logs, execs, kubelet);
  // A pod that stops or goes away ends its forwards, as its network namespace goes with it.
  const unsubscribeForwards = store.subscribe((e) => {
    if (e.key !== 'pods') return;
    const ns = e.object.metadata?.namespace ?? '';
    const name = e.object.metadata?.name ?? '';
    const phase = (e.object.status as { phase?: string } | undefined)?.phase;
    if (e.type === 'DELETED') forwards.killPod(ns, name, true);
    else if (e.object.metadata?.deletionTimestamp || (phase !== undefined && phase !== 'Running'))
      forwards.killPod(ns, name, false);
  });
  const adminToken = auth.add(ADMIN_USER, [MASTERS_GROUP]);
  const tls = makeServingCertificate();
  let port = 0;
  const handler = new ApiHandler({
    store,
    auth,
    rbac,
    admission,
    kubelet: kl,
    logs,
    execs,
    forwards,
    dataDir,
    serverAddress: () => `127.0.0.1:${port}`,
    gitVersion: options.gitVersion ?? 'v1.35.0',
    execProtocols: options.execProtocols ?? EXEC_PROTOCOLS,
    // The composition root decides what exec'd "container" processes inherit from the host.
    execBaseEnv: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' },
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
    logger: options.logger,
    requests,
  });

  const create = (obj: KubeObject): KubeObject => {
    const info = resourceForObject(obj.apiVersion, obj.kind);
    if (!info)
      throw new Error(`fake-apiserver: cannot create ${obj.apiVersion ?? '?'}/${obj.kind ?? '?'}`);
    const ns = obj.metadata?.namespace;
    if (info.namespaced && ns && !store.get(resourceByKey('namespaces'), '', ns)) {
      handler.createObject(resourceByKey('namespaces'), '', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
      });
    }
    return handler.createObject(
      info,
      info.namespaced ? (ns ?? 'default') : '',
      structuredClone(obj),
    );
  };
  create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });

  const loadRbacYaml = (text: string): void => {
    for (const obj of rbacObjectsFromYaml(text)) {
      const info = resourceForObject(obj.apiVersion, obj.kind);
      if (!info) continue;
      const ns = info.namespaced ? (obj.metadata?.namespace ?? 'default') : '';
      const existing = store.get(info, ns, obj.metadata?.name ?? '');
      if (!existing) {
        create({
          ...obj,
          metadata: { ...obj.metadata, namespace: info.namespaced ? ns : undefined },
        });
      } else {
        store.update(info, {
          ...existing,
          ...obj,
          metadata: {
            ...existing.metadata,
            labels: obj.metadata?.labels,
            annotations: obj.metadata?.annotations,
          },
        });
      }
    }
  };
  if (options.rbacYaml) loadRbacYaml(options.rbacYaml);
  const loadAdmissionYaml = (text: string): void => {
    const objects = parseAllDocuments(text)
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null && typeof o === 'object');
    admission.load(objects);
  };
  if (options.admissionYaml) loadAdmissionYaml(options.admissionYaml);

  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) =>
    handler.handle(req, res),
  );
  server.on('upgrade', (req, socket, head) => handler.handleUpgrade(req, socket, head));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigs = new Map<string, string>();
  let stopped = false;

  const fake: FakeApiServer = {
    url,
    port,
    caPem: tls.caPem,
    dataDir,
    tokens: { admin: adminToken },
    requests,
    kubeconfigPath(username = ADMIN_USER, namespace) {
      const key = `${username}\u0000${namespace ?? ''}`;
      const existing = kubeconfigs.get(key);
      if (existing) return existing;
      const token = auth.tokenOf(username);
      if (!token)
        throw new Error(
          `fake-apiserver: no token for user ${username}; call addUser or serviceAccountToken first`,
        );
      const safe = username.replace(/[^A-Za-z0-9_.-]/g, '_');
      const file = path.join(dataDir, `kubeconfig-${safe}${namespace ? `-${namespace}` : ''}.yaml`);
      writeFileSync(
        file,
        kubeconfigYaml({
          server: url,
          caPem: tls.caPem,
          username,
          token,
          ...(namespace ? { namespace } : {}),
        }),
        { mode: 0o600 },
      );
      kubeconfigs.set(key, file);
      return file;
    },
    addUser: (username, groups) => auth.add(username, groups),
    serviceAccountToken(namespace, name) {
      const sa = resourceByKey('serviceaccounts');
      if (!store.get(sa, namespace, name))
        create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
      return auth.addServiceAccount(namespace, name);
    },
    loadRbacYaml,
    loadAdmissionYaml,
    create,
    get: (resource, namespace, name) => store.get(resourceByKey(resource), namespace, name),
    list: (resource, namespace) => store.list(resourceByKey(resource), namespace),
    update(resource, namespace, name, mutate) {
      const info = resourceByKey(resource);
      const obj = store.mustGet(info, namespace, name);
      mutate(obj);
      return store.update(info, obj);
    },
    delete(resource, namespace, name) {
      store.delete(resourceByKey(resource), namespace, name);
    },
    setPodPhase: (namespace, name, phase, opts) => kl.setPhase(namespace, name, phase, opts),
    restartContainer: (namespace, name, container) => kl.restart(namespace, name, container),
    appendPodLog(namespace, pod, container, line) {
      const p = store.mustGet(resourceByKey('pods'), namespace, pod);
      const first =
        ((p.spec as { containers?: { name?: string }[] } | undefined)?.containers ?? [])[0]?.name ??
        '';
      logs.append(namespace, pod, container ?? first, line);
    },
    podWorkDir: (namespace, pod) => podDir(dataDir, namespace, pod),
    activeExecs: () => execs.active(),
    setPodPort: (namespace, pod, containerPort, target) =>
      forwards.setPodPort(
        namespace,
        pod,
        containerPort,
        target === undefined ? undefined : { host: '127.0.0.1', port: target },
      ),
    activePortForwards: () => forwards.active(),
    portForwards: () => forwards.list(),
    execSessions: () => execs.list(),
    activeLogFollows: () => logs.followers(),
    unwrittenLogLines: () => logs.unwrittenLines(),
    compactWatchHistory: () => store.compact(),
    currentResourceVersion: () => String(store.currentRevision()),
    async stop() {
      if (stopped) return;
      stopped = true;
      kl.stop();
      unsubscribeForwards();
      forwards.closeAll();
      await execs.killAll();
      handler.closeStreams();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Give killed exec processes a moment to be reaped before their directory goes.
      await new Promise((r) => setTimeout(r, 50));
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fake;
}
