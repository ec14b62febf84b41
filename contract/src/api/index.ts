/** The keys-service HTTPS API: paths, request bodies and answers, as zod schemas. */
export { API_PATHS, API_PREFIX } from './paths.js';
export { apiErrorSchema } from './errors.js';
export type { ApiErrorBody } from './errors.js';
export {
  DEVICE_CODE_GRANT_TYPE,
  LOGIN_POLL_ERROR_CODES,
  loginSessionRequestSchema,
  loginSessionSchema,
  loginTokenRequestSchema,
  loginTokenSchema,
} from './login.js';
export type {
  LoginPollErrorCode,
  LoginSession,
  LoginSessionRequest,
  LoginToken,
  LoginTokenRequest,
} from './login.js';
export { meSchema } from './me.js';
export type { Me } from './me.js';
export { PERMISSIONS, appEntrySchema, appsSchema, permissionSchema } from './apps.js';
export type { AppEntry, Apps, Permission } from './apps.js';
export {
  PUBLIC_KEY_MAX_LENGTH,
  certificateRequestSchema,
  certificateSchema,
} from './certificates.js';
export type { CertificateRequest, IssuedCertificate } from './certificates.js';
export {
  CONFIG_VAR_NAME_PATTERN,
  configVarsChangeSchema,
  configVarsSchema,
  decodeVersionTag,
  encodeVersionTag,
  isConfigVarName,
} from './config-vars.js';
export type { ConfigVarsBody, ConfigVarsChange, ConfigVarsChangeRequest } from './config-vars.js';
export {
  NDJSON_MEDIA_TYPE,
  encodeLogsQuery,
  formatLogLine,
  logLineSchema,
  logsQuerySchema,
} from './logs.js';
export type { LogLineBody, LogsQuery } from './logs.js';
export { PROCESS_STATES, processEntrySchema, processesSchema } from './processes.js';
export type { ProcessEntry, Processes } from './processes.js';
export { caBundleSchema } from './ca.js';
export type { CaBundle } from './ca.js';
export * from './sessions.js';
