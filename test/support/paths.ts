import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Node arguments that run a workspace's TypeScript sources directly (the `neetodeploy-source`
 * export condition plus tsx), so tests of spawned binaries never run stale build output.
 */
export const SOURCE_NODE_ARGS: readonly string[] = [
  '--conditions=neetodeploy-source',
  '--import',
  'tsx',
];

/** argv for spawning a workspace binary from source: `[process.execPath, ...nodeArgs(pkg)]`. */
export function sourceBinArgs(pkg: 'keys-service' | 'bastion' | 'cli'): string[] {
  return [...SOURCE_NODE_ARGS, path.join(ROOT, pkg, 'src', 'main.ts')];
}
