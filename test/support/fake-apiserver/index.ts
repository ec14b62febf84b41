export { startFakeApiServer } from './server.js';
export { serviceAccountUsername } from './auth.js';
export { rbacObjectsFromYaml } from './rbac.js';
export { waitForPodRunning } from './wait.js';
export type {
  FakeApiServer,
  FakeApiServerOptions,
  ExecSessionInfo,
  PortForwardInfo,
  FakeLogger,
  KubeletOptions,
  KubeObject,
  KubeStatus,
  ObjectMeta,
  PodPhase,
  RequestRecord,
  SetPodPhaseOptions,
  UserInfo,
} from './types.js';
