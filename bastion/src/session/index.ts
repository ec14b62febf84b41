export { handleSession } from './requests.js';
export type { ActiveSession, SessionDeps, SessionRequest, SessionRun } from './types.js';
export { pump, envAllowed } from './flow.js';
