export { handleForward } from './forward.js';
export { createForwardAudit } from './audit.js';
export { DEFAULT_PROCESS, LOOPBACK_HOSTS, checkForward, forwardTarget } from './policy.js';
export type { ForwardAudit, ForwardDeps, ForwardingConfig, RefusalReason } from './types.js';
