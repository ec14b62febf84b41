/**
 * What the CLI, the bastion and the keys-service agree on: the SSH user-name grammar and
 * virtual host names, the certificate key id, the app-name rule, and the API's shapes.
 * Every text form has an encoder and a parser that are exact inverses; parsers return a
 * {@link Result} whose error message is written for the user. docs/identity.md explains them.
 */
export const CONTRACT_VERSION = 1;

export { ContractError, unwrap } from './errors.js';
export type { ContractErrorCode, Result } from './errors.js';
export { APP_NAME_PATTERN, APP_NAME_RULE, isAppName, parseAppName } from './app-name.js';
export {
  POD_NAME_PATTERN,
  PROCESS_TYPE_PATTERN,
  VIRTUAL_HOST_SUFFIX,
  encodeSshUser,
  encodeVirtualHost,
  isPodName,
  isProcessType,
  parsePodName,
  parseProcessType,
  parseSshUser,
  parseVirtualHost,
  sshTargetForVirtualHost,
} from './user-name.js';
export type { SshTarget } from './user-name.js';
export {
  KEY_ID_USER_MAX_LENGTH,
  REQUEST_ID_PATTERN,
  decodeKeyId,
  encodeKeyId,
  isKeyId,
} from './key-id.js';
export type { KeyId } from './key-id.js';
export { USER_ID_HASH_PATTERN, hashUserId, normaliseUserId } from './user-id.js';
export * from './api/index.js';
export { recordingStoreConfigSchema } from './recording-store.js';
export type { RecordingStoreConfig } from './recording-store.js';
