/**
 * The exec conformance table on the Kubernetes platform: a bastion and a keys-service whose
 * platforms authenticate to the fake API server as the chart's ServiceAccounts, and the fake
 * kubelet running each exec as a real local process. Two paths into the app's running web pod:
 * `neetodeploy exec --process web` (in this process) and stock `ssh` through ProxyJump with the
 * ssh_config `neetodeploy ssh-config --install` wrote. The binary case is smaller than the local
 * suite's: every byte also crosses the exec websocket on a shared CPU. What this proves holds
 * against the fake API server only (docs/operations.md says so).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { remoteCommand } from '../../cli/src/exec/command-line.js';
import type { CliConfig } from '../../cli/src/config.js';
import { createApiProvider } from '../../cli/src/session.js';
import { ALICE, APP, startK8sEnv } from '../e2e-kubernetes/harness.js';
import type { K8sEnv } from '../e2e-kubernetes/harness.js';
import { execCases } from './cases.js';
import type { PathName } from './cases.js';
import { runCliInProcess, runPath } from './harness.js';
import type { ExecPath, Invocation, RunOptions, RunOutcome } from './harness.js';

const cases = execCases({ binaryBytes: 2 * 1024 * 1024, lineCount: 300_000 });

describe('exec conformance on the Kubernetes platform (fake API server): the CLI and ssh -J', function () {
  this.timeout(180_000);
  let env: K8sEnv;
  let config: CliConfig;
  let sshJump: ExecPath;

  before(async function () {
    env = await startK8sEnv({ DATABASE_URL: 'postgres://db/shop' });
    config = env.config('conformance');
    await env.loginAs(config, ALICE);
    fs.mkdirSync(path.join(config.home, '.ssh'), { mode: 0o700 });
    const installed = await env.run(config, ['ssh-config', '--install']);
    assert.equal(installed.code, 0, installed.io.err());
    const sshConfig = path.join(config.home, '.ssh', 'config');
    sshJump = {
      name: 'k8s-ssh-jump',
      command: (inv) => ({
        file: 'ssh',
        args: [
          ...['-F', sshConfig, inv.pty ? '-tt' : '-T', '-o', 'BatchMode=yes'],
          ...['-o', 'LogLevel=QUIET', '-l', `${APP}:web`, `${APP}.neetodeploy`],
          remoteCommand(inv.argv) ?? '',
        ],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: config.home, LC_ALL: 'C' },
      }),
      drop: () => undefined,
    };
  });

  after(async function () {
    await env?.dispose();
  });

  const onPath = (p: PathName, inv: Invocation, options: RunOptions): Promise<RunOutcome> =>
    p === 'k8s-cli'
      ? runCliInProcess(inv, options, (io) => ({ io, api: createApiProvider(config), config }), [
          ...['exec', '-a', APP, '--process', 'web'],
        ])
      : runPath(sshJump, inv, options);

  for (const c of cases) {
    it(c.name, async function () {
      const inv = { argv: c.argv, ...(c.pty ? { pty: true } : {}) };
      const options = {
        ...(c.stdin === undefined ? {} : { stdin: c.stdin }),
        ...(c.readDelayMs ? { readDelayMs: c.readDelayMs } : {}),
      };
      // One path after the other: the fake API server and its kubelet share the CPU.
      for (const p of ['k8s-cli', 'k8s-ssh-jump'] as const) {
        const o = await onPath(p, inv, options);
        try {
          c.check(o, p);
        } catch (err) {
          (err as Error).message = `[${p}] ${(err as Error).message}`;
          throw err;
        }
      }
    });
  }
});
