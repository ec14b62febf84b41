/**
 * Issue 6, "How it must be shown": bastion + keys-service on the kubernetes platform over the
 * fake API server, each with the chart's ServiceAccount and nothing more; stock `ssh -J` and
 * `neetodeploy exec` in one-off console pods, `logs --tail`, `config:set`, and the 403s that
 * the bastion's rights must produce.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  encodeCertificateText,
  encodePrivateKey,
  generatePrivateKey,
  signCertificate,
} from '@neetodeploy/sshcert';
import { run } from '../support/openssh.js';
import type { RunResult } from '../support/openssh.js';
import { ROOT, sourceBinArgs } from '../support/paths.js';
import {
  ALICE,
  APP,
  APPS_NAMESPACE,
  RESTART_ANNOTATION,
  appPod,
  consolePods,
  fakeIo,
  startK8sEnv,
} from './harness.js';
import type { K8sEnv } from './harness.js';
import { waitUntil } from '../support/wait.js';

function runSsh(args: string[], home: string, input = ''): Promise<RunResult> {
  // A bare environment: only what ssh and the ssh_config's `Match exec` need.
  return run('ssh', args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    input,
    timeoutMs: 30_000,
  });
}

/** A raw request to the fake API server with a bearer token (its CA from the fake). */
function kubeRequest(
  env: K8sEnv,
  token: string,
  method: string,
  pathname: string,
): Promise<{ status: number; body: { kind?: string; reason?: string; code?: number } }> {
  const url = new URL(env.fake.url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        path: pathname,
        method,
        ca: env.fake.caPem,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let body: { kind?: string; reason?: string; code?: number } = {};
          try {
            body = JSON.parse(text) as typeof body;
          } catch {
            // Not JSON: the status code alone is checked.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('e2e on Kubernetes: bastion + keys-service over the fake API server', function () {
  this.timeout(60_000);
  let env: K8sEnv;

  before(async function () {
    env = await startK8sEnv({
      GREETING: 'hello from the secret',
      DATABASE_URL: 'postgres://db/shop',
    });
  });

  after(async function () {
    await env?.dispose();
  });

  it('neetodeploy exec opens a one-off console pod with the app config vars, returns the exit code, and deletes the pod', async function () {
    const config = env.config('exec');
    await env.loginAs(config, ALICE);
    const seen: string[] = [];
    const watcher = setInterval(() => {
      for (const p of consolePods(env.fake)) {
        const name = p.metadata?.name ?? '';
        if (!seen.includes(name)) seen.push(name);
      }
    }, 10);
    const io = fakeIo();
    let code: number;
    try {
      ({ code } = await env.run(
        config,
        [
          'exec',
          '-a',
          APP,
          '--',
          'printenv GREETING; printenv FROM_TEMPLATE; echo oops >&2; exit 7',
        ],
        io,
      ));
    } finally {
      clearInterval(watcher);
    }
    assert.equal(code, 7, io.err());
    assert.equal(io.out(), 'hello from the secret\nyes\n');
    assert.match(io.err(), /oops\n/);
    assert.equal(seen.length, 1, `one console pod was created: ${seen.join(', ')}`);
    // The console ran in a pod of its own, not in the app's web pod.
    assert.notEqual(seen[0], env.webPod);
    await waitUntil('console pod deleted', () => consolePods(env.fake).length === 0);
    assert.equal(env.fake.activeExecs(), 0);
    // The bastion did it all with its own ServiceAccount: created, exec'd into and deleted the
    // pod, and never touched a Secret or got refused.
    const mine = env.fake.requests.filter((r) => r.user === env.bastionUser);
    const did = (verb: string, pathPart: string) =>
      mine.some((r) => r.verb === verb && r.path.includes(pathPart) && r.status < 300);
    assert.ok(did('create', `/namespaces/${APPS_NAMESPACE}/pods`), 'console pod created');
    assert.ok(did('delete', `/pods/${seen[0] ?? '?'}`), 'console pod deleted by the bastion');
    assert.ok(
      mine.some((r) => r.path.endsWith(`/pods/${seen[0] ?? '?'}/exec`) && r.status === 101),
      'exec upgraded',
    );
    assert.deepEqual(
      mine.filter((r) => r.path.includes('/secrets') || r.status === 403),
      [],
    );
  });

  it('stock ssh -J reaches the console pod with the installed ssh_config: env, stdin, exit code', async function () {
    const config = env.config('stock-ssh');
    await env.loginAs(config, ALICE);
    fs.mkdirSync(path.join(config.home, '.ssh'), { mode: 0o700 });
    await env.run(config, ['ssh-config', '--install']);
    const userConfig = path.join(config.home, '.ssh', 'config');
    assert.match(fs.readFileSync(path.join(config.dir, 'ssh_config'), 'utf8'), /ProxyJump/i);
    const res = await runSsh(
      [
        '-F',
        userConfig,
        '-o',
        'BatchMode=yes',
        `${APP}.neetodeploy`,
        'printenv DATABASE_URL; cat; exit 5',
      ],
      config.home,
      'through the jump\n',
    );
    assert.equal(res.code, 5, res.stderr);
    assert.equal(res.stdout, 'postgres://db/shop\nthrough the jump\n');
    await waitUntil('console pod deleted', () => consolePods(env.fake).length === 0);
  });

  it('neetodeploy logs --tail follows a pod that starts after the command did', async function () {
    const config = env.config('logs');
    await env.loginAs(config, ALICE);
    env.fake.appendPodLog(APPS_NAMESPACE, env.webPod, undefined, 'before-the-command');
    const io = fakeIo();
    const running = env.run(config, ['logs', '-a', APP, '--tail'], io);
    try {
      await waitUntil('the existing line', () => io.out().includes('before-the-command'));
      const later = appPod(APP, 'z9y8x');
      const laterName = later.metadata?.name ?? '';
      env.fake.create(later);
      // Lines keep coming until the follower has attached to the new pod's stream.
      let n = 0;
      await waitUntil(
        'a line of the pod that started later',
        () => {
          try {
            env.fake.appendPodLog(APPS_NAMESPACE, laterName, undefined, `late-line ${++n}`);
          } catch {
            // The pod is still being scheduled by the fake kubelet.
          }
          return /late-line \d+/.test(io.out());
        },
        15_000,
      );
      const lateLine =
        io
          .out()
          .split('\n')
          .find((l) => l.includes('late-line')) ?? '';
      assert.ok(lateLine.includes('web'), `the line names its process: ${lateLine}`);
    } finally {
      io.interrupt();
    }
    const { code } = await running;
    assert.ok(code === 0 || code === 130, `logs ended with ${code}`);
  });

  it('neetodeploy config:set updates the Secret and rolls the Deployment', async function () {
    const config = env.config('config-set');
    await env.loginAs(config, ALICE);
    const annotationBefore = (
      env.fake.get('deployments.apps', APPS_NAMESPACE, `${APP}-web`) as {
        spec: { template: { metadata?: { annotations?: Record<string, string> } } };
      }
    ).spec.template.metadata?.annotations?.[RESTART_ANNOTATION];
    const io = fakeIo();
    const { code } = await env.run(config, ['config:set', '-a', APP, 'FEATURE_X=on'], io);
    assert.equal(code, 0, io.err());
    const secret = env.fake.get('secrets', APPS_NAMESPACE, `${APP}-config`) as {
      data: Record<string, string>;
    };
    assert.equal(Buffer.from(secret.data.FEATURE_X ?? '', 'base64').toString(), 'on');
    assert.equal(
      Buffer.from(secret.data.GREETING ?? '', 'base64').toString(),
      'hello from the secret',
    );
    const annotationAfter = (
      env.fake.get('deployments.apps', APPS_NAMESPACE, `${APP}-web`) as {
        spec: { template: { metadata?: { annotations?: Record<string, string> } } };
      }
    ).spec.template.metadata?.annotations?.[RESTART_ANNOTATION];
    assert.ok(annotationAfter, 'the restart annotation is set');
    assert.notEqual(annotationAfter, annotationBefore);

    // A new console sees the new value (the pod template's envFrom reads the updated Secret).
    const exec = fakeIo();
    const res = await env.run(config, ['exec', '-a', APP, '--', 'printenv FEATURE_X'], exec);
    assert.equal(res.code, 0, exec.err());
    assert.equal(exec.out(), 'on\n');
  });

  it("the bastion's ServiceAccount gets 403 on Secrets and on exec in another namespace", async function () {
    env.fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    env.fake.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'private', namespace: 'other' },
      data: { K: Buffer.from('v').toString('base64') },
    });
    env.fake.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'victim', namespace: 'other' },
      spec: { containers: [{ name: 'c', image: 'registry.example/x:1' }] },
    });
    const token = env.bastionToken;
    const checks = [
      ['GET', `/api/v1/namespaces/${APPS_NAMESPACE}/secrets/${APP}-config`],
      ['GET', `/api/v1/namespaces/${APPS_NAMESPACE}/secrets`],
      ['GET', '/api/v1/namespaces/other/secrets/private'],
      ['POST', '/api/v1/namespaces/other/pods/victim/exec?command=true&stdout=true'],
      ['GET', '/api/v1/namespaces/other/pods/victim/exec?command=true&stdout=true'],
      ['GET', '/api/v1/namespaces/other/pods'],
    ] as const;
    for (const [method, p] of checks) {
      const res = await kubeRequest(env, token, method, p);
      assert.equal(res.status, 403, `${method} ${p}`);
      assert.equal(res.body.kind, 'Status');
      assert.equal(res.body.reason, 'Forbidden');
    }
    // The same token is allowed what the bastion needs (so the 403s above are about the rules).
    const ok = await kubeRequest(env, token, 'GET', `/api/v1/namespaces/${APPS_NAMESPACE}/pods`);
    assert.equal(ok.status, 200);

    // And through the real kubectl, with the bastion's own kubeconfig.
    const kubeconfig = env.fake.kubeconfigPath(env.bastionUser, APPS_NAMESPACE);
    const canI = async (...args: string[]) => {
      const r = await run('kubectl', ['--kubeconfig', kubeconfig, 'auth', 'can-i', ...args], {
        env: process.env,
      });
      return { code: r.code, out: r.stdout.trim() };
    };
    assert.deepEqual(await canI('get', 'secrets', '-n', APPS_NAMESPACE), { code: 1, out: 'no' });
    assert.deepEqual(await canI('create', 'pods/exec', '-n', 'other'), { code: 1, out: 'no' });
    assert.deepEqual(await canI('create', 'pods/exec', '-n', APPS_NAMESPACE), {
      code: 0,
      out: 'yes',
    });
  });
});

describe('e2e on Kubernetes: the bastion binary configured with platform.type kubernetes', function () {
  this.timeout(60_000);
  let env: K8sEnv;
  let child: ChildProcess | undefined;

  before(async function () {
    env = await startK8sEnv({ GREETING: 'from the binary' });
  });

  after(async function () {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await env?.dispose();
  });

  it('main.ts builds the kubernetes platform from its config file and serves stock ssh -J', async function () {
    const dir = path.join(env.root, 'bin');
    fs.mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, 'bastion.yaml');
    fs.writeFileSync(
      configFile,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        name: '127.0.0.1',
        hostKeys: [
          { privateKeyFile: env.hostKeyFile, certificateFile: `${env.hostKeyFile}-cert.pub` },
        ],
        trust: { static: { userCaKeyFiles: [env.userCaFile] } },
        platform: {
          type: 'kubernetes',
          kubeconfigPath: env.fake.kubeconfigPath(env.bastionUser, APPS_NAMESPACE),
          namespaces: { mode: 'shared', namespace: APPS_NAMESPACE },
          reaper: { intervalMs: 0 },
          console: { terminationGracePeriodSeconds: 1, stopGraceMs: 1000 },
        },
        log: { level: 'warn' },
      }),
    );
    const proc = spawn(process.execPath, [...sourceBinArgs('bastion'), '--config', configFile], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"ssh"'));
        if (line) {
          proc.stdout.off('data', onData);
          proc.stdout.resume();
          resolve((JSON.parse(line) as { ssh: { port: number } }).ssh.port);
        }
      };
      proc.stdout.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`bastion exited ${code}: ${stderr}`)));
    });

    // A user certificate from the keys-service's CA for the app, and stock ssh -J to it.
    const userKey = generatePrivateKey('ssh-ed25519');
    const keyFile = path.join(dir, 'id_ed25519');
    fs.writeFileSync(keyFile, encodePrivateKey(userKey), { mode: 0o600 });
    const cert = signCertificate(
      {
        publicKey: userKey.publicKey,
        certType: 'user',
        keyId: ALICE,
        principals: [APP],
        ttlSeconds: 300,
      },
      env.ks.service.authorities.userSigningKey,
    );
    fs.writeFileSync(`${keyFile}-cert.pub`, `${encodeCertificateText(cert)}\n`);
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${port},${APP}.neetodeploy ${env.hostPublicKey}\n`);
    const sshConfig = path.join(dir, 'ssh_config');
    fs.writeFileSync(
      sshConfig,
      [
        'Host *',
        `  IdentityFile ${keyFile}`,
        `  CertificateFile ${keyFile}-cert.pub`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHosts}`,
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        '',
      ].join('\n'),
    );
    const res = await runSsh(
      [
        '-F',
        sshConfig,
        '-J',
        `${APP}@127.0.0.1:${port}`,
        `${APP}@${APP}.neetodeploy`,
        'printenv GREETING; exit 4',
      ],
      dir,
    );
    assert.equal(res.code, 4, res.stderr + stderr);
    assert.equal(res.stdout, 'from the binary\n');
    await waitUntil('console pod deleted', () => consolePods(env.fake).length === 0);
    assert.ok(
      env.fake.requests.some(
        (r) => r.user === env.bastionUser && r.verb === 'create' && r.path.endsWith('/pods'),
      ),
      'the binary created the console pod as the bastion ServiceAccount',
    );
  });
});
