/** The ssh2 patch is what is installed: pinned version, applied by postinstall, fully present. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';

const PATCH = path.join(ROOT, 'patches', 'ssh2+1.17.0.patch');

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as Record<string, unknown>;
}

describe('ssh2 patch: installation', function () {
  it('pins ssh2 to the patched version and applies patches on install', function () {
    const installed = readJson('node_modules/ssh2/package.json');
    assert.equal(installed.version, '1.17.0');
    for (const ws of ['bastion', 'cli']) {
      const deps = readJson(`${ws}/package.json`).dependencies as Record<string, string>;
      assert.equal(deps.ssh2, '1.17.0', `${ws} must pin ssh2 exactly`);
    }
    const scripts = readJson('package.json').scripts as Record<string, string>;
    assert.match(scripts.postinstall ?? '', /\bpatch-package\b/);
  });

  it('every hunk of the patch is present in node_modules/ssh2', function () {
    // Reversing cleanly (dry run) proves each hunk is applied, with nothing else changed around it.
    const r = spawnSync('patch', ['-p1', '-R', '--dry-run', '-f', '-s', '-i', PATCH], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
