'use strict';
// The import resolver eslint-plugin-boundaries uses (eslint.config.js): it resolves imports as
// TypeScript and our package exports do, so that every import between workspaces is seen as a
// file of the workspace it lands in, whichever way it is written:
//   `@neetodeploy/<name>[/...]` -> that workspace's folder (its `src/index.ts`), without `dist/`;
//   `./x.js` written for a `./x.ts` on disk -> the `.ts` file;
//   anything else -> the node resolver that eslint-plugin-boundaries ships with.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const nodeResolver = require(
  require.resolve('eslint-import-resolver-node', {
    paths: [path.dirname(require.resolve('eslint-plugin-boundaries'))],
  }),
);

/** `@neetodeploy/cli` -> `/repo/cli`, from the root package.json's workspaces. */
const workspaceDirs = new Map();
for (const dir of JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).workspaces) {
  const abs = path.join(root, dir);
  const { name } = JSON.parse(fs.readFileSync(path.join(abs, 'package.json'), 'utf8'));
  workspaceDirs.set(name, abs);
}

const isFile = (p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;

exports.interfaceVersion = 2;

exports.resolve = function resolve(source, file, config) {
  const [scope, name] = source.split('/');
  const workspace = workspaceDirs.get(`${scope}/${name}`);
  if (workspace) return { found: true, path: path.join(workspace, 'src', 'index.ts') };
  if (source.startsWith('.')) {
    const abs = path.resolve(path.dirname(file), source);
    const candidates = [
      abs,
      abs.replace(/\.js$/, '.ts'),
      abs.replace(/\.mjs$/, '.mts'),
      abs.replace(/\.cjs$/, '.cts'),
      `${abs}.ts`,
      path.join(abs, 'index.ts'),
    ];
    const found = candidates.find(isFile);
    if (found) return { found: true, path: found };
  }
  return nodeResolver.resolve(source, file, config);
};
