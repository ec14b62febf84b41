export type { SshServer } from './types.js';
export { createSshServer, type SshServerDeps } from './server.js';
export { COMPRESSION, MLKEM_KEX, serverAlgorithms } from './algorithms.js';
export type { AlgorithmOptions } from './algorithms.js';
