/**
 * Every command of `neetodeploy-keys`, one module per command: the offline CA commands
 * (`ca init`, `sign`, `verify`, `krl create|check`) and the server's (`serve`,
 * `users add|list|remove`, `tokens create|list|revoke`, `revoke`).
 */
export { registerAdminCommands } from './register-ca.js';
export { registerKeysServiceCommands } from './register-server.js';
export type { AdminDeps, CommandDeps, Io, ServeKeysService } from './deps.js';
export type { CommandIo } from './io.js';
export { AdminError, CheckFailed, UsageError } from './errors.js';
export { runCaInit, type CaInitOptions } from './ca-init.js';
export {
  runSign,
  certificatePathFor,
  SSH_KEYGEN_DEFAULT_EXTENSIONS,
  type SignOptions,
} from './sign.js';
export { runVerify, type VerifyOptions } from './verify.js';
export { runKrlCreate, runKrlCheck, type KrlCreateOptions, type KrlCheckOptions } from './krl.js';
export { parseDuration } from './parse.js';
export { runServe } from './serve.js';
export { runUsersAdd, runUsersList, runUsersRemove } from './users.js';
export { runTokensCreate, runTokensList, runTokensRevoke } from './tokens.js';
export { runRevoke } from './revoke.js';
export {
  runRecordingsVerify,
  DEFAULT_RECORDING_KEY_FILE,
  type RecordingsVerifyOptions,
} from './recordings.js';
