import { createRequire } from 'node:module';

/** The CLI's version from its package.json (src/, dist/ and bundle/ all sit one level below it). */
export function cliVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = require('../package.json') as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
