/**
 * Issue 17 on Kubernetes, end to end: stock `ssh -L` and `ssh -W` through the bastion, whose
 * kubernetes platform authenticates as the chart's bastion ServiceAccount against the fake API
 * server, which serves `pods/portforward` to a real 127.0.0.1 listener behind the app's web pod.
 * The chart's rendered RBAC decides: with `bastion.portForwarding.enabled` a forward works; with
 * the default, OpenSSH prints why it was refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { createBastion, parseBastionConfig, type Bastion } from '@neetodeploy/bastion';
import { createKubernetesPlatform, type KubernetesPlatform } from '@neetodeploy/platform';
import { chartRbacYaml, DEFAULT_NAMESPACE, serviceAccountNames } from '../support/chart.js';
import {
  serviceAccountUsername,
  startFakeApiServer,
  type FakeApiServer,
} from '../support/fake-apiserver/index.js';
import { freePort } from '../support/openssh.js';
import { makeKey, signCert, ssh, tempDir, writeSshConfig } from '../support/ssh-client.js';
import { APP, APPS_NAMESPACE, platformConfig, seedApp } from './harness.js';
import { waitUntil } from '../support/wait.js';
import { waitForPodRunning } from '../support/fake-apiserver/index.js';

const BASTION_NAME = 'bastion.test';
const WEB_PORT = 8080;
const USER = 'dev@example.com';

function chartRbac(enabled: boolean): Promise<string> {
  return chartRbacYaml({
    appNamespaces: [{ name: APPS_NAMESPACE, allowedImagePrefixes: ['registry.example/'] }],
    bastion: { portForwarding: { enabled } },
  });
}

function get(port: number, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
  });
}

/** `ssh -N -L ...`; resolves once a request through it succeeds. */
async function startTunnel(
  config: string,
  args: readonly string[],
  localPort: number,
): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn('ssh', ['-F', config, '-N', '-o', 'ExitOnForwardFailure=yes', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ssh exited ${child.exitCode}: ${stderr}`);
    try {
      await get(localPort, '/ready');
      return { child, stop };
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`tunnel not ready: ${(err as Error).message}; ssh said: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('e2e kubernetes: port forwarding through the bastion with stock OpenSSH', function () {
  this.timeout(90_000);
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fake: FakeApiServer;
  let platform: KubernetesPlatform;
  let bastion: Bastion;
  let web: http.Server;
  let webPod: string;
  let config: string;
  let open = 0;
  let peak = 0;

  before(async () => {
    tmp = await tempDir('nd-e2e-k8s-pf-');
    fake = await startFakeApiServer({ kubelet: { startDelayMs: 30 } });
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: APPS_NAMESPACE } });
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEFAULT_NAMESPACE } });
    fake.loadRbacYaml(await chartRbac(true));
    const sa = serviceAccountNames().bastion;
    fake.serviceAccountToken(DEFAULT_NAMESPACE, sa);
    webPod = seedApp(fake, APP, {});
    await waitForPodRunning(fake, APPS_NAMESPACE, webPod);

    // The app's web port: a real server that tells which connection served a request.
    web = http.createServer((req, res) => {
      res.end(`shop web says ${req.url ?? ''}\n`);
    });
    web.on('connection', (socket) => {
      open += 1;
      peak = Math.max(peak, open);
      socket.once('close', () => (open -= 1));
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    fake.setPodPort(APPS_NAMESPACE, webPod, WEB_PORT, (web.address() as AddressInfo).port);

    const logger = pino({ level: process.env.E2E_K8S_LOG ?? 'silent' });
    platform = await createKubernetesPlatform(
      platformConfig(
        fake.kubeconfigPath(serviceAccountUsername(DEFAULT_NAMESPACE, sa), APPS_NAMESPACE),
      ),
      { logger },
    );
    const [userCa, hostCa, hostKey, userKey] = await Promise.all([
      makeKey(tmp.dir, 'user_ca'),
      makeKey(tmp.dir, 'host_ca'),
      makeKey(tmp.dir, 'ssh_host_ed25519_key'),
      makeKey(tmp.dir, 'dev'),
    ]);
    const hostCert = await signCert(hostCa, hostKey, {
      keyId: 'bastion',
      principals: [BASTION_NAME, '*.neetodeploy'],
      host: true,
      validity: '-5m:+1h',
    });
    const userCert = await signCert(userCa, userKey, {
      keyId: `${USER}:req1`,
      principals: [APP],
      options: ['clear', 'permit-pty', 'permit-port-forwarding'],
    });
    bastion = createBastion(
      parseBastionConfig({
        listen: { host: '127.0.0.1', port: 0 },
        name: BASTION_NAME,
        hostKeys: [{ privateKeyFile: hostKey.file, certificateFile: hostCert }],
        trust: { static: { userCaKeyFiles: [`${userCa.file}.pub`] } },
      }),
      { platform, logger },
    );
    const { ssh: address } = await bastion.start();
    const knownHosts = path.join(tmp.dir, 'known_hosts');
    await writeFile(
      knownHosts,
      `@cert-authority ${BASTION_NAME},*.neetodeploy ${hostCa.publicKey}\n`,
    );
    config = await writeSshConfig(path.join(tmp.dir, 'ssh_config'), {
      port: address.port,
      identity: userKey.file,
      certificate: userCert,
      knownHosts,
      bastionName: BASTION_NAME,
      user: `${APP}:web`,
    });
  });

  after(async () => {
    await bastion?.stop();
    await platform?.close();
    await fake?.stop();
    web?.closeAllConnections();
    web?.close();
    await tmp?.cleanup();
  });

  it('ssh -L to shop:web@bastion serves HTTP from the web pod, 20 connections at once', async () => {
    const local = await freePort();
    const tunnel = await startTunnel(
      config,
      ['-L', `${local}:localhost:${WEB_PORT}`, 'bastion'],
      local,
    );
    try {
      const res = await get(local, '/through-kubernetes');
      assert.deepEqual(res, { status: 200, body: 'shop web says /through-kubernetes\n' });
      // 20 raw connections held open at once, then each asks and is answered.
      peak = 0;
      const sockets = await Promise.all(
        Array.from({ length: 20 }, () => {
          return new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(local, '127.0.0.1', () => resolve(s));
            s.once('error', reject);
          });
        }),
      );
      await waitUntil('20 connections at the web pod', () => open >= 20, 20_000);
      const answers = await Promise.all(
        sockets.map(
          (s, i) =>
            new Promise<string>((resolve) => {
              let text = '';
              s.on('data', (d: Buffer) => (text += d.toString()));
              s.once('end', () => resolve(text));
              s.end(`GET /c${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
            }),
        ),
      );
      answers.forEach((text, i) => assert.match(text, new RegExp(`shop web says /c${i}\\n$`)));
      assert.ok(peak >= 20, `peak ${peak}`);
    } finally {
      await tunnel.stop();
    }
    const forwards = fake.requests.filter((r) => r.path.endsWith(`/pods/${webPod}/portforward`));
    assert.ok(forwards.length >= 21, `${forwards.length} forwards`);
    for (const r of forwards) {
      assert.equal(
        r.user,
        serviceAccountUsername(DEFAULT_NAMESPACE, serviceAccountNames().bastion),
      );
      assert.equal(r.status, 101);
      assert.match(r.userAgent ?? '', new RegExp(`; user ${USER.replace('.', '\\.')}\\)$`));
    }
  });

  it('ssh -W localhost:PORT through ProxyJump to shop.neetodeploy reaches the web pod', async () => {
    const r = await ssh(config, ['-W', `localhost:${WEB_PORT}`, `${APP}.neetodeploy`], {
      input: 'GET /via-jump HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout.toString(),
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nshop web says \/via-jump\n$/,
    );
  });

  it('ssh -W to a port nothing listens on prints the reason', async () => {
    const r = await ssh(config, ['-W', 'localhost:9999', 'bastion'], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /channel 0: open failed: connect failed: nothing listens on port 9999 in web\.[a-z0-9]+ \(connection refused\)/,
    );
  });

  it('with the chart default (no pods/portforward for the bastion), ssh -W is refused, saying why', async () => {
    fake.loadRbacYaml(await chartRbac(false));
    try {
      const before = fake.requests.length;
      const r = await ssh(config, ['-W', `localhost:${WEB_PORT}`, 'bastion'], {
        timeoutMs: 20_000,
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /open failed: .*port forwarding is not enabled on this cluster/);
      const denied = fake.requests.slice(before).filter((q) => q.path.endsWith('/portforward'));
      assert.deepEqual(
        denied.map((q) => q.status),
        [403],
      );
    } finally {
      fake.loadRbacYaml(await chartRbac(true));
    }
  });
});
