/**
 * Client `env` requests per session channel. Fixed rather than configured: the allow-list
 * (`session.envAllow`) already decides which names pass; this only bounds how many.
 */
export const MAX_ENV_VARIABLES = 64;

/** Whether a session that already holds `count` variables may take one more. */
export function envRoomFor(count: number): boolean {
  return count < MAX_ENV_VARIABLES;
}
