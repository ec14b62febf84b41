/** The consoles open in this process: logged when they start and end, ended by `close()`. */
import { EVENTS } from './events.js';
import type { ExecConsole } from './exec.js';
import type { KubernetesPlatformState } from './types.js';

export function trackConsole(
  { consoles, logger }: KubernetesPlatformState,
  console: ExecConsole,
  fields: Record<string, unknown>,
): void {
  logger.info(fields, EVENTS.consoleStarted);
  consoles.add(console);
  void console.done.then((status) => {
    consoles.delete(console);
    logger.info({ ...fields, ...status }, EVENTS.consoleEnded);
  });
}

/** Kills every open console; resolves when they have ended. */
export async function endConsoles({ consoles }: KubernetesPlatformState): Promise<void> {
  const ending = [...consoles].map((c) => {
    c.kill();
    return c.done;
  });
  await Promise.all(ending);
}
