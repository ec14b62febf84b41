export type {
  Admission,
  AdmissionRefusal,
  Admitted,
  AuthTries,
  ChannelBudget,
  ConnectionGate,
  Deadline,
  SessionClocks,
  UserSessions,
} from './types.js';
export { createConnectionGate } from './admission.js';
export { createAuthTries } from './auth-tries.js';
export { createChannelBudget } from './channels.js';
export { armDeadline, startSessionClocks } from './deadlines.js';
export { MAX_ENV_VARIABLES, envRoomFor } from './env.js';
export { createUserSessions } from './user-sessions.js';
