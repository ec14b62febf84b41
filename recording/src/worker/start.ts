/**
 * Starts a worker from the file beside the caller: its `.js` in dist. Sources run under tsx
 * (the tests) have no `.js` sibling, and Node 20 gives worker threads none of the parent's
 * loader hooks, so there a one-line bootstrap loads the `.ts` file through tsx's API.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** `base`: the worker's URL without its extension. */
export function startWorkerThread(base: URL, workerData: unknown): Worker {
  const built = new URL(`${base.href}.js`);
  if (fs.existsSync(fileURLToPath(built))) return new Worker(built, { workerData });
  const source = JSON.stringify(`${base.href}.ts`);
  // The package's ESM build of the API (its CommonJS build cannot load itself from a worker).
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const api = JSON.stringify(pathToFileURL(path.join(path.dirname(cjs), 'index.mjs')).href);
  const bootstrap = `import(${api}).then(({ tsImport }) => tsImport(${source}, ${source}));`;
  return new Worker(bootstrap, { eval: true, workerData });
}
