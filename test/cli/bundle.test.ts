/**
 * The binary users run: `cli/bin/neetodeploy.js` loads the esbuild bundle that `npm run build`
 * writes to cli/bundle/ (scripts/bundle-cli.ts). Every other CLI test runs the sources, so this
 * one proves the bundle itself: its lazily loaded chunks, the bundled ssh2 with its patches and its
 * native module left in place, the version read from cli/package.json, and error exits.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';
import { ALICE, runBin, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';

describe('cli: the built binary (cli/bundle)', function () {
  let env: CliEnv;
  let apiEnv: Record<string, string>;

  before(async function () {
    env = await startCliEnv({ bastion: 'pinned', runProcesses: true });
    apiEnv = {
      HOME: path.join(env.root, 'bundle-home'),
      NEETODEPLOY_TOKEN: await env.ks.token(ALICE),
      NEETODEPLOY_API_URL: env.apiUrl,
      NEETODEPLOY_CA_FILE: env.caFile,
    };
  });

  after(async function () {
    await env?.dispose();
  });

  it('prints the version of cli/package.json', async function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'cli', 'package.json'), 'utf8')) as {
      version: string;
    };
    const res = await runBin(['--version'], { HOME: apiEnv.HOME ?? '' }, { built: true });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${pkg.version}\n`);
  });

  it('exec keeps stdout, stderr and the exit status (post-quantum key exchange included)', async function () {
    const res = await runBin(
      ['exec', '-a', 'demo', '--', 'echo out; echo err >&2; exit 3'],
      apiEnv,
      { built: true },
    );
    assert.equal(res.code, 3, res.stderr);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
  });

  it('a command that loads the whole contract works, and an error still exits 1 with its hint', async function () {
    const config = await runBin(['config', '-a', 'demo', '--json'], apiEnv, { built: true });
    assert.equal(config.code, 0, config.stderr);
    assert.deepEqual(JSON.parse(config.stdout), {});
    const unknown = await runBin(['config', '-a', 'nope'], apiEnv, { built: true });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nope/);
    assert.match(unknown.stderr, /Apps you can use: demo/);
  });

  it("requires ssh2's native crypto module from where npm built it", function () {
    const native = path.join(
      ROOT,
      'node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node',
    );
    // Without a compiler ssh2 has no native module and uses JavaScript: nothing to find.
    if (!fs.existsSync(native)) this.skip();
    const bundle = path.join(ROOT, 'cli', 'bundle');
    const required = fs
      .readdirSync(bundle)
      .filter((f) => f.endsWith('.js'))
      .flatMap((f) => [
        ...fs.readFileSync(path.join(bundle, f), 'utf8').matchAll(/"([^"]+\.node)"/g),
      ])
      .map((m) => path.resolve(bundle, m[1] ?? ''));
    assert.deepEqual(required, [native]);
  });
});
