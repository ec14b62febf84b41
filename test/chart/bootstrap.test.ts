/**
 * The chart's pre-install bootstrap, run as its Job would run it: the script taken from the
 * rendered hook ConfigMap, the environment from the rendered Job, the identity of the Job's
 * ServiceAccount with the chart's own hook Role, against the fake API server. It creates the
 * CA and host-key Secrets once (checked with the real ssh-keygen), never regenerates them, and
 * certifies a new host key with a CA that already exists.
 */
/* eslint-disable @typescript-eslint/no-unsafe-return -- rendered manifests are untyped JSON (see helpers.ts Json) */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chartRbacYaml, helmBinary, renderChart, serviceAccountNames } from '../support/chart.js';
import {
  startFakeApiServer,
  type FakeApiServer,
  type KubeObject,
} from '../support/fake-apiserver/index.js';
import { ROOT } from '../support/paths.js';
import { NAMESPACE, type Json } from './helpers.js';

const execFileAsync = promisify(execFile);
const VALUES = { bastion: { publicName: 'ssh.example.com' } };
const SA = serviceAccountNames();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('helm chart bootstrap Job (CA and host key, made once)', function () {
  this.timeout(120_000);
  let server: FakeApiServer;
  let dir: string;
  let script: string;
  let jobEnv: Record<string, string>;

  before(async () => {
    await helmBinary();
    const objects = await renderChart(VALUES);
    const hookConfig = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.annotations?.['helm.sh/hook'] === 'pre-install',
    ) as Json;
    const job = objects.find((o) => o.kind === 'Job') as Json;
    const container = job.spec.template.spec.containers[0];
    jobEnv = Object.fromEntries(
      (container.env as Json[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
    );
    assert.deepEqual(
      (container.env as Json[])
        .filter((e) => e.valueFrom)
        .map((e) => e.valueFrom.fieldRef.fieldPath),
      ['metadata.namespace'],
    );
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nda-bootstrap-'));
    script = path.join(dir, 'bootstrap.mjs');
    // The command mounts the hook ConfigMap; run exactly the rendered script.
    assert.deepEqual(container.command, ['node', '/etc/neetodeploy/bootstrap/bootstrap.mjs']);
    fs.writeFileSync(script, hookConfig.data['bootstrap.mjs']);

    server = await startFakeApiServer({ dataDir: path.join(dir, 'apiserver') });
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    server.loadRbacYaml(await chartRbacYaml(VALUES, [], { includeHooks: true }));
    const saDir = path.join(dir, 'serviceaccount');
    fs.mkdirSync(saDir);
    fs.writeFileSync(
      path.join(saDir, 'token'),
      server.serviceAccountToken(NAMESPACE, SA.bootstrap),
    );
    fs.writeFileSync(path.join(saDir, 'ca.crt'), server.caPem);
    jobEnv.SERVICE_ACCOUNT_DIR = saDir;
  });

  after(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs the Job's command with the Job's env. The image's `/app/<pkg>/dist` paths map to this
   * checkout's build output (`npm run build`), which is what the image copies.
   */
  function fromImage(imagePath: string): string {
    const file = path.join(ROOT, path.posix.relative('/app', imagePath));
    assert.ok(fs.existsSync(file), `${file} exists (run npm run build)`);
    return file;
  }

  async function runJob(): Promise<Run> {
    assert.equal(jobEnv.KEYS_CLI, '/app/keys-service/dist/main.js');
    assert.equal(jobEnv.SSHCERT_MODULE, '/app/sshcert/dist/index.js');
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [script], {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          ...jobEnv,
          NAMESPACE,
          KUBERNETES_SERVICE_HOST: '127.0.0.1',
          KUBERNETES_SERVICE_PORT: String(server.port),
          KEYS_CLI: fromImage(jobEnv.KEYS_CLI),
          SSHCERT_MODULE: fromImage(jobEnv.SSHCERT_MODULE),
        },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  function secret(name: string): KubeObject | undefined {
    return server.get('secrets', NAMESPACE, name);
  }

  /** Writes a Secret's keys to files and returns their paths. */
  function secretFiles(name: string): Record<string, string> {
    const data = (secret(name)!.data ?? {}) as Record<string, string>;
    const out = fs.mkdtempSync(path.join(dir, `${name}-`));
    return Object.fromEntries(
      Object.entries(data).map(([key, b64]) => {
        const file = path.join(out, key);
        fs.writeFileSync(file, Buffer.from(b64, 'base64'), { mode: 0o600 });
        return [key, file];
      }),
    );
  }

  function fingerprintOf(pubFile: string): string {
    return execFileSync('ssh-keygen', ['-l', '-f', pubFile], { encoding: 'utf8' }).split(' ')[1]!;
  }

  function checkHostKey(hostSecret: string, caSecret: string): void {
    const host = secretFiles(hostSecret);
    assert.deepEqual(Object.keys(host).sort(), [
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key-cert.pub',
      'ssh_host_ed25519_key.pub',
    ]);
    const derived = execFileSync('ssh-keygen', ['-y', '-f', host.ssh_host_ed25519_key!], {
      encoding: 'utf8',
    });
    assert.equal(
      derived.trim().split(' ').slice(0, 2).join(' '),
      fs
        .readFileSync(host['ssh_host_ed25519_key.pub']!, 'utf8')
        .trim()
        .split(' ')
        .slice(0, 2)
        .join(' '),
    );
    const listing = execFileSync(
      'ssh-keygen',
      ['-L', '-f', host['ssh_host_ed25519_key-cert.pub']!],
      {
        encoding: 'utf8',
      },
    );
    assert.match(listing, /Type: ssh-ed25519-cert-v01@openssh.com host certificate/);
    assert.match(listing, /Principals: \n\s+ssh\.example\.com\n\s+\*\.neetodeploy\n/);
    const ca = secretFiles(caSecret);
    assert.ok(
      listing.includes(`Signing CA: ED25519 ${fingerprintOf(ca['host_ca.pub']!)}`),
      `signed by the host CA:\n${listing}`,
    );
  }

  it('creates the CA and host-key Secrets with the Job identity and the chart Role only', async () => {
    const run = await runJob();
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const ca = secretFiles(jobEnv.CA_SECRET!);
    assert.deepEqual(Object.keys(ca).sort(), ['host_ca', 'host_ca.pub', 'user_ca', 'user_ca.pub']);
    for (const name of ['user_ca', 'host_ca']) {
      const derived = execFileSync('ssh-keygen', ['-y', '-f', ca[name]!], { encoding: 'utf8' });
      assert.match(derived, /^ssh-ed25519 /);
    }
    checkHostKey(jobEnv.HOST_KEY_SECRET!, jobEnv.CA_SECRET!);
    const byJob = server.requests.filter(
      (r) => r.user === `system:serviceaccount:${NAMESPACE}:${SA.bootstrap}`,
    );
    assert.ok(byJob.length >= 4);
    assert.deepEqual(
      byJob.filter((r) => r.status === 403),
      [],
    );
    assert.deepEqual([...new Set(byJob.map((r) => r.verb))].sort(), ['create', 'get']);
    for (const r of byJob)
      assert.match(r.path, new RegExp(`^/api/v1/namespaces/${NAMESPACE}/secrets`));
    assert.doesNotMatch(run.stdout + run.stderr, /BEGIN OPENSSH PRIVATE KEY/, 'never logs a key');
  });

  it('never regenerates: a second run leaves both Secrets untouched', async () => {
    const before = [jobEnv.CA_SECRET!, jobEnv.HOST_KEY_SECRET!].map((n) =>
      JSON.stringify(secret(n)),
    );
    const run = await runJob();
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /CA secret exists; not regenerating/);
    assert.match(run.stdout, /host key secret exists; not regenerating/);
    const after = [jobEnv.CA_SECRET!, jobEnv.HOST_KEY_SECRET!].map((n) =>
      JSON.stringify(secret(n)),
    );
    assert.deepEqual(after, before);
  });

  it('certifies a missing host key with the CA that already exists', async () => {
    const caBefore = JSON.stringify(secret(jobEnv.CA_SECRET!));
    server.delete('secrets', NAMESPACE, jobEnv.HOST_KEY_SECRET!);
    const run = await runJob();
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(JSON.stringify(secret(jobEnv.CA_SECRET!)), caBefore);
    checkHostKey(jobEnv.HOST_KEY_SECRET!, jobEnv.CA_SECRET!);
  });

  it('cannot touch other Secrets: the hook Role pins reads to its two Secret names', async () => {
    server.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'unrelated', namespace: NAMESPACE },
      data: { k: Buffer.from('v').toString('base64') },
    });
    const saved = { ...jobEnv };
    try {
      jobEnv.CA_SECRET = 'unrelated';
      jobEnv.CREATE_CA = 'true';
      jobEnv.CREATE_HOST_KEY = 'false';
      const run = await runJob();
      assert.notEqual(run.code, 0);
      assert.match(run.stdout, /HTTP 403/);
    } finally {
      Object.assign(jobEnv, saved);
    }
  });
});
