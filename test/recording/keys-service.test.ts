/**
 * The keys-service side of recording: the policy's per-app `recording` setting reaches issued
 * certificates as the `recording@neetodeploy.com` extension (absent meaning `full`), the
 * `sessions:read` permission parses, and `neetodeploy-keys recordings verify` checks a
 * recording in a data dir (exit 0 and a summary, or exit 1 and the reason).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  FileRecordingStore,
  loadRecordingKey,
  RECORDING_EXTENSION,
  startRecording,
} from '@neetodeploy/recording';
import {
  encodePublicKeyText,
  generatePrivateKey,
  parseCertificateText,
} from '@neetodeploy/sshcert';
import { Policy } from '../../keys-service/src/policy/index.js';
import { sourceBinArgs } from '../support/paths.js';
import { ALICE, startKeysService, type TestKeysService } from '../support/keys-service.js';
import { writeRecordingKey } from './support.js';

const POLICY = `
rules:
  - users: [${ALICE}]
    apps: ["*"]
    permissions: [exec, sessions:read]
recording:
  demo: output-only
  "shop-*": off
  shop-main: full
`;

function keysCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceBinArgs('keys-service'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('recording: policy, certificates and the verify command', function () {
  this.timeout(60_000);

  it('picks the strongest matching recording setting per app, full when none matches', () => {
    const policy = Policy.parse(POLICY);
    assert.equal(policy.recordingFor('demo'), 'output-only');
    assert.equal(policy.recordingFor('shop-cart'), 'off');
    assert.equal(policy.recordingFor('shop-main'), 'full');
    assert.equal(policy.recordingFor('other'), 'full');
    assert.deepEqual(
      [...policy.grantFor({ email: ALICE, groups: [] }, 'demo').permissions],
      ['exec', 'sessions:read'],
    );
    assert.throws(
      () => Policy.parse('recording:\n  demo: everything\n'),
      /policy\.recording\.demo/,
    );
  });

  describe('issued certificates', () => {
    let ks: TestKeysService;
    let token: string;
    before(async () => {
      ks = await startKeysService({ policy: POLICY });
      token = await ks.token(ALICE);
    });
    after(async () => {
      await ks?.dispose();
    });

    async function extensionsFor(app: string): Promise<Record<string, string>> {
      const publicKey = encodePublicKeyText(
        generatePrivateKey('ssh-ed25519').publicKey,
        't@laptop',
      );
      const r = await ks.client.request('/api/v1/certificates', {
        token,
        body: { app, public_key: publicKey },
      });
      assert.equal(r.status, 201, r.text);
      return {
        ...parseCertificateText((r.json as { certificate: string }).certificate).extensions,
      };
    }

    it('carry the app recording policy as an extension, and none for full', async () => {
      assert.equal((await extensionsFor('demo'))[RECORDING_EXTENSION], 'output-only');
      assert.equal((await extensionsFor('shop-cart'))[RECORDING_EXTENSION], 'off');
      const full = await extensionsFor('shop-main');
      assert.equal(full[RECORDING_EXTENSION], undefined);
      assert.equal(full['permit-pty'], '');
    });
  });

  describe('neetodeploy-keys recordings verify', () => {
    let dataDir: string;
    let id: string;
    let store: FileRecordingStore;

    before(async () => {
      dataDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'nd-rec-cli-'));
      fs.mkdirSync(path.join(dataDir, 'ca'), { mode: 0o700 });
      // Where the all-in-one keeps them: the key beside the CAs, recordings in their own folder.
      const keyFile = writeRecordingKey(path.join(dataDir, 'ca'), 'recording_key');
      store = new FileRecordingStore(path.join(dataDir, 'recordings'));
      id = randomUUID();
      const rec = await startRecording(
        {
          info: {
            sessionId: id,
            app: 'demo',
            user: ALICE,
            keyId: `${ALICE}:r1`,
            certSerial: '77',
            clientAddress: '127.0.0.1:2222',
            via: 'direct',
            command: 'uptime',
            pty: false,
            policy: 'full',
          },
          term: { cols: 80, rows: 24 },
        },
        {
          store,
          key: loadRecordingKey(keyFile),
          now: () => new Date(),
          config: {
            mode: 'best-effort',
            maxSessionBytes: 1 << 20,
            chunkBytes: 1024,
            flushIntervalMs: 100,
            spoolBytes: 1 << 20,
          },
        },
      );
      rec.output(Buffer.from('up 3 days\n'));
      assert.ok(await rec.finish({ code: 0 }));
    });
    after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    it('says ok with a summary for an intact recording', async () => {
      const r = await keysCli(['recordings', 'verify', id, '--data-dir', dataDir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ok\n/);
      assert.match(r.stdout, new RegExp(`session: ${id}`));
      assert.match(r.stdout, /user: alice@example.com \(key id alice@example.com:r1, serial 77\)/);
      assert.match(r.stdout, /command: uptime/);
      const json = await keysCli(['recordings', 'verify', id, '--data-dir', dataDir, '--json']);
      assert.equal(JSON.parse(json.stdout).ok, true);
    });

    it('exits 1 with the reason when a chunk was edited', async () => {
      const file = path.join(dataDir, 'recordings', 'sessions', id, 'chunks', '00000001.chunk');
      const original = fs.readFileSync(file);
      fs.writeFileSync(file, original.toString('utf8').replace('up 3 days', 'up 9 days'));
      try {
        const r = await keysCli(['recordings', 'verify', id, '--data-dir', dataDir]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stdout, /^refused: chunk-altered: chunk 1 was altered/);
      } finally {
        fs.writeFileSync(file, original);
      }
    });

    it('exits 1 for an unknown session, and explains a missing key', async () => {
      const r = await keysCli(['recordings', 'verify', randomUUID(), '--data-dir', dataDir]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^refused: not-found/);
      const noKey = await keysCli([
        'recordings',
        'verify',
        id,
        '--data-dir',
        dataDir,
        '--key',
        path.join(dataDir, 'nope'),
      ]);
      assert.equal(noKey.code, 1);
      assert.match(noKey.stderr, /cannot read the recording key .*nope.*--key FILE/);
    });
  });
});
