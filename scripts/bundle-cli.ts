// Bundles the `neetodeploy` binary (cli/dist/main.js, built by tsc) into cli/bundle/, which
// cli/bin/neetodeploy.js runs. A Node process pays for every module file it resolves, reads and
// compiles: unbundled, `exec` loaded about 190 files (99 of them zod's, 50 of those locales it
// never uses; ssh2's ~40) before its first packet. Bundled, each command loads its own chunks
// and zod shrinks to what the contract's schemas use (they import it as a namespace, which
// esbuild can prune). Code splitting keeps the commands' dynamic imports lazy, so `--version`
// still loads nothing.
//
// ssh2 is bundled as patches/ left it (the root postinstall applies them before building).
// Kept outside: its optional native crypto module and `cpu-features`, loaded from node_modules
// at run time as before (ssh2 falls back to JavaScript without them), and `open`, which finds
// its helper script next to its own file.
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'cli/bundle');

/** A native module stays where npm built it; the bundle requires it by a relative path. */
const nativeModulesInPlace: Plugin = {
  name: 'native-modules-in-place',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({
      path: path.relative(outdir, path.resolve(args.resolveDir, args.path)),
      external: true,
    }));
  },
};

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
  // Stack traces map back to the sources under `node --enable-source-maps`.
  sourcemap: 'linked',
  external: ['open', 'cpu-features'],
  plugins: [nativeModulesInPlace],
  // Bundled CommonJS (commander, ssh2) calls require() and reads __dirname, which ES modules
  // lack: each chunk gets its own.
  banner: {
    js: [
      "import { createRequire as __ndRequire } from 'node:module';",
      "import { fileURLToPath as __ndPath } from 'node:url';",
      'const require = __ndRequire(import.meta.url);',
      'const __filename = __ndPath(import.meta.url);',
      "const __dirname = __ndPath(new URL('.', import.meta.url));",
    ].join(' '),
  },
  logLevel: 'warning',
});
