export { handleSession } from './session.js';
export type { ActiveSession, SessionDeps } from './types.js';
export { pump, envAllowed } from './flow.js';
