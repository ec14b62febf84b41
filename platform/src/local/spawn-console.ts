/**
 * Local consoles: a child process in its own session (so its own process group), on pipes or on
 * a pseudo-terminal from node-pty. Signals go to the whole group, as sshd does.
 */
import { spawnPipeConsole } from './pipe-console.js';
import { spawnPtyConsole } from './pty-console.js';
import type { LocalConsole, SpawnConsoleRequest } from './types.js';

/** Resolves once the process runs; throws Unavailable when it cannot be started. */
export async function spawnConsole(request: SpawnConsoleRequest): Promise<LocalConsole> {
  return request.pty ? spawnPtyConsole(request, request.pty) : await spawnPipeConsole(request);
}
