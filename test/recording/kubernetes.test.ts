/**
 * A session on the Kubernetes platform (the fake API server with the chart's RBAC) is recorded
 * like any other, and the recording's header names the pod and the exec request, whose user
 * agent the API server saw: the cluster's audit log and the recording join on it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import type { Bastion } from '@neetodeploy/bastion';
import { FileRecordingStore, verifyRecording } from '@neetodeploy/recording';
import {
  encodeCertificateText,
  encodePrivateKey,
  generatePrivateKey,
  signCertificate,
} from '@neetodeploy/sshcert';
import { run } from '../support/openssh.js';
import { ALICE, APP, startK8sEnv, type K8sEnv } from '../e2e-kubernetes/harness.js';
import { nextRecording, replay, streamOf, writeRecordingKey } from './support.js';

describe('recording: a session on the Kubernetes platform', function () {
  this.timeout(90_000);
  let env: K8sEnv;
  let bastion: Bastion;
  let port: number;
  let store: FileRecordingStore;
  let keyFile: string;
  let identity: string;

  before(async () => {
    env = await startK8sEnv({ GREETING: 'hello' });
    const dir = path.join(env.root, 'recording-bastion');
    fs.mkdirSync(dir, { recursive: true });
    keyFile = writeRecordingKey(dir);
    const recordings = path.join(dir, 'recordings');
    bastion = createBastion(
      parseBastionConfig({
        listen: { host: '127.0.0.1', port: 0 },
        name: '127.0.0.1',
        hostKeys: [
          { privateKeyFile: env.hostKeyFile, certificateFile: `${env.hostKeyFile}-cert.pub` },
        ],
        trust: { static: { userCaKeyFiles: [env.userCaFile] } },
        recording: { keyFile, store: { kind: 'file', dir: recordings } },
      }),
      { platform: env.bastionPlatform, logger: pino({ level: 'silent' }) },
    );
    port = (await bastion.start()).ssh.port;
    store = new FileRecordingStore(recordings);
    // A user certificate as the keys-service issues them, for the real ssh client.
    const key = generatePrivateKey('ssh-ed25519');
    identity = path.join(dir, 'id_ed25519');
    fs.writeFileSync(identity, encodePrivateKey(key), { mode: 0o600 });
    const cert = signCertificate(
      {
        publicKey: key.publicKey,
        certType: 'user',
        keyId: `${ALICE}:req-k8s-1`,
        principals: [APP],
        ttlSeconds: 600,
        extensions: { 'permit-pty': '' },
      },
      env.ks.service.authorities.userSigningKey,
    );
    fs.writeFileSync(`${identity}-cert.pub`, `${encodeCertificateText(cert)}\n`);
  });
  after(async () => {
    await bastion?.stop();
    await env?.dispose();
  });

  it('records a one-off console pod session, naming the pod and the exec request the cluster saw', async () => {
    const r = await run(
      'ssh',
      [
        ...[
          '-F',
          '/dev/null',
          '-i',
          identity,
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'IdentityAgent=none',
        ],
        ...[
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'BatchMode=yes',
        ],
        ...[
          '-p',
          String(port),
          `${APP}@127.0.0.1`,
          'echo "greeting=$GREETING"; echo on-stderr >&2; exit 4',
        ],
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 4, r.stderr);
    const m = await nextRecording(store, APP, new Set(), 20_000);
    const verified = await verifyRecording(store, m.id, fs.readFileSync(keyFile, 'utf8'));
    assert.equal(verified.ok, true, JSON.stringify(verified));
    const { header, events } = await replay(store, m.id);
    assert.equal(streamOf(events, 'o'), 'greeting=hello\n');
    assert.equal(streamOf(events, 'e'), 'on-stderr\n');
    assert.equal(streamOf(events, 'x'), '4');

    const info = header.neetodeploy;
    assert.equal(info.user, ALICE);
    assert.match(info.pod ?? '', new RegExp(`^apps/${APP}-console-`), info.pod);
    const exec = info.execRequest as { path: string; userAgent: string };
    assert.ok(exec, 'the header names the exec request');
    assert.match(
      exec.path,
      new RegExp(`^/api/v1/namespaces/apps/pods/${APP}-console-[^/]+/exec\\?`),
    );
    assert.ok(exec.userAgent.includes(m.id), exec.userAgent);
    assert.ok(exec.userAgent.includes(ALICE), exec.userAgent);
    // What the cluster's audit log holds for that request: the same path and user agent, made
    // by the bastion's service account.
    const seen = env.fake.requests.find(
      (q) =>
        q.path.endsWith('/exec') && exec.path.startsWith(q.path) && q.userAgent === exec.userAgent,
    );
    assert.ok(seen, 'the API server saw the exec with the session user agent');
    assert.equal(seen.user, env.bastionUser);
  });
});
