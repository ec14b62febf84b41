// Pre-install bootstrap of neetodeploy-access, run by the hook Job in the keys-service image.
// Creates, only when missing, the CA Secret (`neetodeploy-keys ca init`) and the bastion's
// host-key Secret (a fresh ed25519 key certified by the host CA). An existing Secret is never
// read for rewriting nor replaced: CA keys are made once, upgrades never touch them.
// Talks to the API server with the Job's own token (no kubectl in the image).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
// Overridable so the script can be tested against a local API server.
const SA = env.SERVICE_ACCOUNT_DIR || '/var/run/secrets/kubernetes.io/serviceaccount';

function required(name) {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

const namespace = required('NAMESPACE');
const keysCli = required('KEYS_CLI');
const apiHost = required('KUBERNETES_SERVICE_HOST');
const apiPort = required('KUBERNETES_SERVICE_PORT');
const token = fs.readFileSync(path.join(SA, 'token'), 'utf8').trim();
const apiCa = fs.readFileSync(path.join(SA, 'ca.crt'));

function log(message, fields = {}) {
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`,
  );
}

function api(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(
      {
        host: apiHost,
        port: Number(apiPort),
        method,
        path: urlPath,
        ca: apiCa,
        // A fresh connection per call: a kept-alive socket may be closed by the server while
        // `ca init` runs, and reusing it fails with "socket hang up".
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        timeout: 15_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const secretsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;

async function getSecret(name) {
  const res = await api('GET', `${secretsPath}/${encodeURIComponent(name)}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET secret ${name}: HTTP ${res.status}`);
  return res.json;
}

/** Creates the Secret; a 409 means a concurrent run made it first, which is as good. */
async function createSecret(name, files, component) {
  const data = {};
  for (const [key, file] of Object.entries(files)) {
    data[key] = fs.readFileSync(file).toString('base64');
  }
  const res = await api('POST', secretsPath, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: {
        'app.kubernetes.io/part-of': 'neetodeploy-access',
        'app.kubernetes.io/component': component,
        'app.kubernetes.io/created-by': 'bootstrap-job',
      },
    },
    data,
  });
  if (res.status === 409) {
    log('secret appeared concurrently; keeping it', { secret: name });
    return;
  }
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`create secret ${name}: HTTP ${res.status}`);
  }
  log('secret created', { secret: name, keys: Object.keys(files) });
}

function keys(args) {
  const res = spawnSync(process.execPath, [keysCli, ...args], { encoding: 'utf8' });
  if (res.status !== 0) {
    throw new Error(`neetodeploy-keys ${args[0]} failed (${res.status}): ${res.stderr.trim()}`);
  }
  return res.stdout;
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bootstrap-'));
  const caSecret = required('CA_SECRET');
  let hostCaFile;

  if (env.CREATE_CA === 'true') {
    if (await getSecret(caSecret)) {
      log('CA secret exists; not regenerating', { secret: caSecret });
    } else {
      const dir = path.join(work, 'ca');
      keys(['ca', 'init', '--out', dir, '--type', env.CA_KEY_TYPE || 'ed25519']);
      await createSecret(
        caSecret,
        Object.fromEntries(
          ['user_ca', 'user_ca.pub', 'host_ca', 'host_ca.pub'].map((f) => [f, path.join(dir, f)]),
        ),
        'ca',
      );
      hostCaFile = path.join(dir, 'host_ca');
    }
  }

  if (env.CREATE_HOST_KEY === 'true') {
    const hostSecret = required('HOST_KEY_SECRET');
    if (await getSecret(hostSecret)) {
      log('host key secret exists; not regenerating', { secret: hostSecret });
      return;
    }
    const sshcert = await import(required('SSHCERT_MODULE'));
    const dir = path.join(work, 'host-key');
    fs.mkdirSync(dir, { mode: 0o700 });
    const keyFile = path.join(dir, 'ssh_host_ed25519_key');
    const key = sshcert.generatePrivateKey('ssh-ed25519', { comment: 'neetodeploy-bastion' });
    fs.writeFileSync(keyFile, sshcert.encodePrivateKey(key, 'neetodeploy-bastion'), {
      mode: 0o600,
    });
    fs.writeFileSync(
      `${keyFile}.pub`,
      `${sshcert.encodePublicKeyText(key.publicKey, 'neetodeploy-bastion')}\n`,
    );
    const files = {
      ssh_host_ed25519_key: keyFile,
      'ssh_host_ed25519_key.pub': `${keyFile}.pub`,
    };
    const principals = env.HOST_PRINCIPALS || '';
    if (principals) {
      if (!hostCaFile) {
        // The CA existed before (supplied, or made by an earlier install): read its host CA.
        const secret = await getSecret(caSecret);
        const encoded = secret?.data?.host_ca;
        if (!encoded) throw new Error(`secret ${caSecret} has no host_ca key`);
        hostCaFile = path.join(work, 'host_ca');
        fs.writeFileSync(hostCaFile, Buffer.from(encoded, 'base64'), { mode: 0o600 });
      }
      keys([
        'sign',
        '--ca',
        hostCaFile,
        '--key',
        `${keyFile}.pub`,
        '--host',
        '--principals',
        principals,
        '--ttl',
        env.HOST_CERT_TTL || '365d',
        '--id',
        'neetodeploy-bastion',
      ]);
      files['ssh_host_ed25519_key-cert.pub'] = `${keyFile}-cert.pub`;
    } else {
      log('bastion.publicName is empty: host key left uncertified');
    }
    await createSecret(hostSecret, files, 'bastion');
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((err) => {
  log('bootstrap failed', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
