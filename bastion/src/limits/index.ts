export type {
  Admission,
  AdmissionRefusal,
  Admitted,
  AuthTries,
  ChannelBudget,
  ConnectionGate,
  Deadline,
  PenaltyOffence,
  SessionClocks,
  SourcePenalties,
  UserSessions,
} from './types.js';
export { createConnectionGate } from './admission.js';
export { createAuthTries } from './auth-tries.js';
export { createChannelBudget } from './channels.js';
export { armDeadline } from './deadlines.js';
export { startSessionClocks } from './session-clocks.js';
export { MAX_ENV_VARIABLES, envRoomFor } from './env.js';
export { createUserSessions } from './user-sessions.js';
export { boundLogFields, MAX_LOG_FIELD_CHARS } from './log-fields.js';
export { createSourcePenalties } from './penalties.js';
export { MAX_USERNAME_BYTES, usernameFits } from './username.js';
