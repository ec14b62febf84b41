export type { SshServer } from './types.js';
export { createSshServer, type SshServerDeps } from './server.js';
