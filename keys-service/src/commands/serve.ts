import type { CommandDeps } from './deps.js';
import { UsageError } from './errors.js';

/**
 * `neetodeploy-keys serve --config FILE`: runs the server until SIGINT or SIGTERM. The work is
 * main.ts's (the composition root); this command only hands it the options.
 */
export async function runServe(
  options: { config: string },
  deps: Pick<CommandDeps, 'serve'>,
): Promise<void> {
  if (!deps.serve) throw new UsageError('serve runs only from the neetodeploy-keys binary');
  await deps.serve(options);
}
