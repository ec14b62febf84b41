// Bundles the `neetodeploy` binary (cli/dist/main.js, built by tsc) into cli/bundle/, which
// cli/bin/neetodeploy.js runs. A Node process pays for every module file it resolves, reads and
// compiles: unbundled, `exec` loaded about 150 files (99 of them zod's, 50 of those locales it
// never uses) before its first packet. Bundled, each command loads its own chunk and zod shrinks
// to what the contract's schemas use (they import it as a namespace, which esbuild can prune).
// Code splitting keeps the commands' dynamic imports lazy, so `--version` still loads nothing.
//
// Kept external: ssh2, whose patched files (patches/) are loaded at run time from node_modules
// and which reaches an optional native module, and `open`, which finds its helper script next
// to its own file.
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'cli/bundle');

// Chunk names carry content hashes: a stale chunk left behind would never be loaded, only kept.
fs.rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'cli/dist/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Stack traces map back to the TypeScript sources under `node --enable-source-maps`.
  sourcemap: 'linked',
  external: ['ssh2', 'open'],
  // Bundled CommonJS dependencies (commander) call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __neetodeployRequire } from 'node:module'; const require = __neetodeployRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
