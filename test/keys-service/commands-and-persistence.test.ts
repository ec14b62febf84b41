import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashUserId } from '@neetodeploy/contract';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { AppError } from '@neetodeploy/platform';
import {
  encodePublicKeyText,
  generatePrivateKey,
  parseCertificateText,
  parseKrl,
} from '@neetodeploy/sshcert';
import {
  openSqliteStore,
  parseKeysServiceConfig,
  databasePath,
  ConfigError,
  loadKeysServiceConfigFile,
  mintToken,
} from '@neetodeploy/keys-service';
import { createProgram } from '../../keys-service/src/cli.js';
import { sourceBinArgs } from '../support/paths.js';
import { ALICE, HttpsClient, quietLogger, startKeysService } from '../support/keys-service.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function keysCli(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceBinArgs('keys-service'), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** The real commander program in-process (fast): the thrown error instead of an exit code. */
async function keysInProcess(
  args: string[],
  input = '',
): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const program = createProgram({
    io: { stdout, stderr, stdin: Readable.from([Buffer.from(input)]) },
    now: () => new Date(),
    env: {},
    cwd: process.cwd(),
  });
  try {
    await program.parseAsync(['node', 'neetodeploy-keys', ...args]);
    return { stdout: stdout.text, stderr: stderr.text };
  } catch (error) {
    return { stdout: stdout.text, stderr: stderr.text, error };
  }
}

describe('keys-service commands and persistence', function () {
  // A CLI run starts node + tsx: seconds, up to a minute on a loaded 2-core machine.
  this.timeout(150_000);
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-cmd-'));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tokens list/revoke and users list/remove (issue 13 item 9)', async function () {
    const dataDir = path.join(dir, 'data');
    const run = async (args: string[], input = ''): Promise<string> => {
      const out = await keysInProcess([...args, '--data-dir', dataDir], input);
      assert.equal(out.error, undefined, String(out.error));
      return out.stdout;
    };
    await run(['users', 'add', ALICE, '--group', 'dev', '--password-stdin'], 'a long password\n');
    const first = (await run(['tokens', 'create', '--user', ALICE])).trim();
    const second = (await run(['tokens', 'create', '--user', ALICE])).trim();
    assert.match(await run(['users', 'list']), new RegExp(`^${ALICE}  groups: dev\n$`));

    const listed = JSON.parse(await run(['tokens', 'list', '--json'])) as Array<{
      id: string;
      user: string;
      state: string;
    }>;
    assert.equal(listed.length, 2);
    const text = await run(['tokens', 'list', '--user', ALICE]);
    assert.ok(!text.includes(first) && !text.includes(second), 'tokens are never printed');
    const firstId = createHash('sha256').update(first).digest('hex').slice(0, 8);
    assert.ok(listed.some((t) => t.id === firstId && t.user === ALICE && t.state === 'live'));

    assert.match(await run(['tokens', 'revoke', firstId]), /^revoked token/);
    const live = JSON.parse(await run(['tokens', 'list', '--json'])) as Array<{ id: string }>;
    assert.deepEqual(
      live.map((t) => t.id),
      listed.map((t) => t.id).filter((id) => id !== firstId),
    );
    const all = JSON.parse(await run(['tokens', 'list', '--all', '--json'])) as unknown[];
    assert.equal(all.length, 2);
    const bad = await keysInProcess(['tokens', 'revoke', 'zz', '--data-dir', dataDir]);
    assert.ok(bad.error instanceof AppError);

    assert.match(
      await run(['users', 'remove', ALICE]),
      /^removed alice@example.com; revoked 1 token/,
    );
    assert.equal(await run(['users', 'list']), '');
    assert.deepEqual(JSON.parse(await run(['tokens', 'list', '--json'])), []);
  });

  it('users add, tokens create (token alone on stdout) and revoke work on the store', async function () {
    const dataDir = path.join(dir, 'data');
    const add = await keysInProcess(
      [
        'users',
        'add',
        ALICE,
        '--group',
        'dev',
        '--group',
        'ops',
        '--password-stdin',
        '--data-dir',
        dataDir,
      ],
      'a long password\n',
    );
    assert.equal(add.error, undefined);
    assert.equal(add.stdout, '');

    const short = await keysInProcess(
      ['users', 'add', 'x@example.com', '--password-stdin', '--data-dir', dataDir],
      'short\n',
    );
    assert.ok(short.error instanceof AppError);
    assert.match(short.error.userMessage, /at least 8 characters/);
    const nowhere = await keysInProcess(['tokens', 'create', '--user', ALICE]);
    assert.ok(nowhere.error instanceof AppError);
    assert.match(nowhere.error.userMessage, /--config FILE or --data-dir DIR/);

    // The real binary once: stdout must carry the token and nothing else.
    const created = await keysCli([
      'tokens',
      'create',
      '--user',
      ALICE,
      '--ttl',
      '2d',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^ndk_[A-Za-z0-9_-]{43}\n$/);
    const token = created.stdout.trim();

    const ks = await startKeysService({
      dataDir,
      policy: `rules:\n  - users: [${ALICE}]\n    apps: [demo]\n    permissions: [exec]\n`,
    });
    try {
      const me = await ks.client.request('/api/v1/me', { token });
      assert.equal(me.status, 200);
      assert.deepEqual(me.json.groups, ['dev', 'ops']);
      const expires = Date.parse(me.json.token.expires_at) - Date.now();
      assert.ok(expires > 47 * 3600_000 && expires <= 48 * 3600_000);

      // Revoke through a second connection to the same file while the server runs (WAL).
      const neither = await keysInProcess(['revoke', '--data-dir', dataDir]);
      assert.ok(neither.error instanceof AppError);
      assert.match(neither.error.userMessage, /exactly one of --user EMAIL or --serial N/);
      const revoked = await keysInProcess(['revoke', '--user', ALICE, '--data-dir', dataDir]);
      assert.equal(revoked.error, undefined);
      assert.match(revoked.stdout, /revoked 1 token\(s\) of alice@example.com/);
      assert.equal((await ks.client.request('/api/v1/me', { token })).status, 401);
      const ca = await ks.client.request('/api/v1/ca');
      assert.equal(typeof ca.json.not_before_sha256[hashUserId(ALICE)], 'number');
      assert.equal(ca.json.krl, null);

      // One certificate into the KRL, by serial; the bundle serves it with a new ETag.
      const serial = await keysInProcess([
        'revoke',
        '--serial',
        '18446744073709551615',
        '--data-dir',
        dataDir,
      ]);
      assert.equal(serial.error, undefined);
      const withKrl = await ks.client.request('/api/v1/ca', {
        headers: { 'if-none-match': ca.headers.etag as string },
      });
      assert.equal(withKrl.status, 200);
      const krl = parseKrl(Buffer.from(withKrl.json.krl as string, 'base64'));
      assert.deepEqual(
        krl.sections.flatMap((s) => s.serialRanges.map(([a, b]) => [a, b])),
        [[0xffffffffffffffffn, 0xffffffffffffffffn]],
      );
    } finally {
      await ks.dispose();
    }
  });

  it('keeps CA keys, TLS certificate and state across an in-process restart', async function () {
    const first = await startKeysService({ seedTls: false });
    const token = await first.token(ALICE);
    const bundle1 = await first.client.request('/api/v1/ca');
    const fingerprint = first.address.tlsFingerprint;
    await first.stop();

    const second = await startKeysService({ dataDir: first.dataDir });
    try {
      assert.equal(second.address.tlsFingerprint, fingerprint);
      const bundle2 = await second.client.request('/api/v1/ca', {
        headers: { 'if-none-match': bundle1.headers.etag as string },
      });
      assert.equal(bundle2.status, 304, 'same CA keys and revocations: same ETag');
      assert.equal((await second.client.request('/api/v1/me', { token })).status, 200);
    } finally {
      await second.dispose();
    }
  });

  it('loses no acknowledged write when the server is killed with SIGKILL', async function () {
    const dataDir = path.join(dir, 'data');
    const configFile = path.join(dir, 'keys.yaml');
    fs.writeFileSync(
      path.join(dir, 'policy.yaml'),
      `rules:\n  - users: [${ALICE}]\n    apps: [demo]\n    permissions: [exec]\n`,
    );
    fs.writeFileSync(
      configFile,
      'keysService:\n  dataDir: ./data\n  listen: { port: 0 }\n  policyFile: ./policy.yaml\n',
    );
    // The token is minted in-process (the CLI path is covered above): one spawn less.
    const config = loadKeysServiceConfigFile(configFile);
    const seedStore = openSqliteStore(databasePath(config));
    const { token } = await mintToken(
      { config, store: seedStore, logger: quietLogger(), clock: () => new Date() },
      { email: ALICE, clientDescription: 'test' },
    );
    await seedStore.close();

    let child: ChildProcess | undefined;
    try {
      child = spawn(
        process.execPath,
        [...sourceBinArgs('keys-service'), 'serve', '--config', configFile],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 60_000);
        child!.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /"url":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child!.on('exit', () => reject(new Error(`server exited: ${out}`)));
      });
      const client = new HttpsClient(
        url,
        fs.readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8'),
      );
      const publicKey = encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey);
      const serials: string[] = [];
      const sessions: string[] = [];
      for (let i = 0; i < 5; i++) {
        const cert = await client.request('/api/v1/certificates', {
          token,
          body: { app: 'demo', public_key: publicKey },
        });
        assert.equal(cert.status, 201, cert.text);
        serials.push(cert.json.serial);
        const s = await client.request('/api/v1/login-sessions', { body: { hostname: `h${i}` } });
        assert.equal(s.status, 201);
        sessions.push(s.json.user_code.replace('-', ''));
      }
      client.close();
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));

      const store = openSqliteStore(databasePath(parseKeysServiceConfig({ dataDir })));
      try {
        const audited = (await store.audit.list({ type: 'certificate.issued' })).map(
          (e) => e.details.serial,
        );
        for (const serial of serials)
          assert.ok(audited.includes(serial), `audit event of ${serial} lost`);
        for (const code of sessions)
          assert.ok(
            await store.loginSessions.findLiveByUserCode(code, new Date()),
            `session ${code} lost`,
          );
      } finally {
        await store.close();
      }
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('reports configuration errors with their paths', function () {
    assert.throws(
      () =>
        parseKeysServiceConfig({
          dataDir: '/x',
          listen: { port: 'eighty' },
          certificates: { ttlSeconds: 7200, maxTtlSeconds: 3600 },
        }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /listen\.port/);
        assert.match(
          err.message,
          /certificates\.ttlSeconds: ttlSeconds must not exceed maxTtlSeconds/,
        );
        return true;
      },
    );
    assert.throws(() => parseKeysServiceConfig({ dataDir: '/x', surprise: 1 }), /surprise/);
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'keysService:\n  dataDir: ./d\n  tls: { mode: files }\n');
    assert.throws(() => loadKeysServiceConfigFile(file), /keysService\.tls\.certFile/);
  });
});

describe('keys-service TLS modes', function () {
  it('serves plain HTTP behind a TLS proxy (tls.mode none)', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-tls-'));
    const { createKeysService } = await import('@neetodeploy/keys-service');
    const service = createKeysService(
      parseKeysServiceConfig({
        dataDir: dir,
        listen: { port: 0 },
        tls: { mode: 'none' },
        trustProxyHops: 1,
      }),
      { logger: quietLogger() },
    );
    try {
      const address = await service.start();
      assert.match(address.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(address.caFile, undefined);
      const res = await fetch(`${address.url}/api/v1/login-sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
        body: '{}',
      });
      assert.equal(res.status, 201);
      const body = (await res.json()) as { verification_uri: string };
      assert.equal(body.verification_uri, `${address.url}/device`);
      assert.ok(!fs.existsSync(path.join(dir, 'tls')));
    } finally {
      await service.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a given certificate (tls.mode files)', async function () {
    const first = await startKeysService();
    const tlsDir = path.join(first.dataDir, 'tls');
    const second = await startKeysService({
      config: {
        tls: {
          mode: 'files',
          certFile: path.join(tlsDir, 'server.crt'),
          keyFile: path.join(tlsDir, 'server.key'),
        },
      },
    });
    try {
      assert.equal(second.address.tlsFingerprint, first.address.tlsFingerprint);
      assert.equal(second.address.caFile, undefined);
      const client = new HttpsClient(second.address.url, first.ca);
      assert.equal((await client.request('/healthz')).status, 200);
      client.close();
    } finally {
      await second.dispose();
      await first.dispose();
    }
  });
});

describe('keys-service user CA rotation', function () {
  it('signs with the configured key and trusts the extra keys in GET /api/v1/ca', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-rot-'));
    const keyFile = path.join(dir, 'user_ca.new');
    const made = await new Promise<number | null>((resolve) => {
      spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'new-ca', '-f', keyFile]).on(
        'close',
        resolve,
      );
    });
    assert.equal(made, 0);
    const oldKey = encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 'old-ca');
    const ks = await startKeysService({
      config: { ca: { userKeyFile: keyFile, extraUserPublicKeys: [oldKey] } },
    });
    try {
      const bundle = await ks.client.request('/api/v1/ca');
      const newKey = fs
        .readFileSync(`${keyFile}.pub`, 'utf8')
        .trim()
        .split(' ')
        .slice(0, 2)
        .join(' ');
      assert.equal(bundle.json.user_ca_keys.length, 2);
      assert.equal(bundle.json.user_ca_keys[0], `${newKey} neetodeploy-user-ca`);
      assert.equal(bundle.json.user_ca_keys[1], oldKey);
      const token = await ks.token(ALICE);
      const res = await ks.client.request('/api/v1/certificates', {
        token,
        body: {
          app: 'demo',
          public_key: encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey),
        },
      });
      assert.equal(res.status, 201, res.text);
      const cert = parseCertificateText(res.json.certificate as string);
      assert.equal(encodePublicKeyText(cert.signatureKey), newKey);
    } finally {
      await ks.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
