/**
 * `GET /api/v1/apps/:app/sessions` and `GET /api/v1/sessions/:id/recording` over real HTTPS,
 * reading recordings the recording library wrote into the keys-service's data dir.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { encodeSessionsQuery, sessionsQuerySchema } from '@neetodeploy/contract';
import type { SessionsQuery } from '@neetodeploy/contract';
import { S3RecordingStore } from '@neetodeploy/recording';
import type { RecordingManifest } from '@neetodeploy/recording';
import { startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import {
  ALICE,
  BOB,
  SESSIONS_POLICY,
  makeRecordingKey,
  recordSession,
  tamperWithChunk,
} from './sessions-fixtures.js';
import type { RecordingKeyFiles } from './sessions-fixtures.js';

describe('contract: sessions query', function () {
  it('encodeSessionsQuery and sessionsQuerySchema are inverses, every field covered', function () {
    const full: Required<SessionsQuery> = { user: 'a+b@example.com', since: '2h', limit: 7 };
    const fields = Object.keys(sessionsQuerySchema.shape).sort();
    assert.deepEqual(Object.keys(full).sort(), fields, 'a field left out of this test');
    for (const query of [full, {}, { since: '2026-12-01T00:00:00.000Z' }] as SessionsQuery[]) {
      const params = Object.fromEntries(encodeSessionsQuery(query));
      assert.deepEqual(sessionsQuerySchema.parse(params), query);
    }
  });
});

describe('keys-service sessions API', function () {
  this.timeout(30_000);
  let ks: TestKeysService;
  let keyFiles: RecordingKeyFiles;
  let dir: string;
  let alice: string;
  let bob: string;
  let first: RecordingManifest;
  let second: RecordingManifest;
  let bobs: RecordingManifest;
  let tampered: RecordingManifest;

  before(async function () {
    keyFiles = makeRecordingKey();
    ks = await startKeysService({
      policy: SESSIONS_POLICY,
      config: { recording: { publicKeyFile: keyFiles.publicKeyFile } },
    });
    dir = path.join(ks.dataDir, 'recordings');
    alice = await ks.token(ALICE);
    bob = await ks.token(BOB);
    first = await recordSession(dir, keyFiles.key, {
      command: 'sh -c "echo out; echo err >&2; exit 3"',
      steps: [{ out: 'out\n' }, { pauseMs: 30 }, { err: 'err\n' }],
      exit: { code: 3 },
    });
    second = await recordSession(dir, keyFiles.key, {
      command: null,
      steps: [{ in: 'ls\r' }, { out: 'ls\r\nfile-a  file-b\r\n' }, { resize: [100, 30] }],
      exit: { signal: 'TERM' },
    });
    bobs = await recordSession(dir, keyFiles.key, {
      user: BOB,
      command: 'uptime',
      steps: [{ out: 'up 3 days\n' }],
    });
    tampered = await recordSession(dir, keyFiles.key, {
      command: 'cat secrets.txt',
      steps: [{ out: 'nothing to see here\n' }],
    });
    tamperWithChunk(dir, tampered.id);
    await recordSession(dir, keyFiles.key, { app: 'other', steps: [{ out: 'x\n' }] });
  });

  after(async function () {
    await ks?.dispose();
    if (keyFiles) fs.rmSync(keyFiles.dir, { recursive: true, force: true });
  });

  it("lists an app's sessions newest first: who, when, duration, command, exit, bytes, mode, verified", async function () {
    const res = await ks.client.request('/api/v1/apps/demo/sessions', { token: alice });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    const sessions = res.json.sessions as Array<Record<string, unknown>>;
    assert.deepEqual(
      sessions.map((s) => s.id),
      [tampered.id, bobs.id, second.id, first.id],
    );
    const one = sessions.find((s) => s.id === first.id)!;
    assert.deepEqual(
      {
        app: one.app,
        user: one.user,
        command: one.command,
        exit_code: one.exit_code,
        exit_signal: one.exit_signal,
        bytes: one.bytes,
        recording_mode: one.recording_mode,
        verified: one.verified,
        target: one.target,
        started_at: one.started_at,
        ended_at: one.ended_at,
      },
      {
        app: 'demo',
        user: ALICE,
        command: 'sh -c "echo out; echo err >&2; exit 3"',
        exit_code: 3,
        exit_signal: null,
        bytes: { in: 0, out: 4, err: 4 },
        recording_mode: 'full',
        verified: true,
        target: 'demo-console-1',
        started_at: first.startedAt,
        ended_at: first.endedAt,
      },
    );
    assert.ok((one.duration_ms as number) >= 30, `duration ${String(one.duration_ms)}`);
    const shell = sessions.find((s) => s.id === second.id)!;
    assert.deepEqual(
      [shell.command, shell.exit_code, shell.exit_signal, shell.bytes],
      [null, null, 'TERM', { in: 3, out: 20, err: 0 }],
    );
    assert.equal(sessions.find((s) => s.id === tampered.id)!.verified, false);
  });

  it('filters by user, since and limit', async function () {
    const byBob = await ks.client.request(
      `/api/v1/apps/demo/sessions?user=${encodeURIComponent(BOB.toUpperCase())}`,
      { token: alice },
    );
    assert.equal(byBob.status, 200, byBob.text);
    assert.deepEqual(
      byBob.json.sessions.map((s: { id: string }) => s.id),
      [bobs.id],
    );
    const limited = await ks.client.request('/api/v1/apps/demo/sessions?limit=2', { token: alice });
    assert.deepEqual(
      limited.json.sessions.map((s: { id: string }) => s.id),
      [tampered.id, bobs.id],
    );
    const since = encodeURIComponent(second.startedAt);
    const recent = await ks.client.request(`/api/v1/apps/demo/sessions?since=${since}`, {
      token: alice,
    });
    assert.deepEqual(
      recent.json.sessions.map((s: { id: string }) => s.id),
      [tampered.id, bobs.id, second.id],
    );
    const lastHour = await ks.client.request('/api/v1/apps/demo/sessions?since=1h', {
      token: alice,
    });
    assert.equal(lastHour.json.sessions.length, 4);
  });

  it('streams a recording as asciicast v3 text: header, then the events as recorded', async function () {
    const res = await ks.client.request(`/api/v1/sessions/${first.id}/recording`, {
      token: alice,
    });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^application\/x-asciicast/);
    const lines = res.text.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!) as {
      version: number;
      neetodeploy: { app: string; user: string };
    };
    assert.equal(header.version, 3);
    assert.deepEqual([header.neetodeploy.app, header.neetodeploy.user], ['demo', ALICE]);
    const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.deepEqual(
      events.map(([, code, data]) => [code, data]),
      [
        ['o', 'out\n'],
        ['e', 'err\n'],
        ['x', '3'],
      ],
    );
    // The 30 ms pause is kept (a timer may fire a millisecond early against the wall clock).
    assert.ok(events[1]![0] >= 0.025, `stderr came ${events[1]![0]}s after stdout`);
  });

  it('refuses without sessions:read (403 saying whom to ask), and without a token (401)', async function () {
    const list = await ks.client.request('/api/v1/apps/demo/sessions', { token: bob });
    assert.equal(list.status, 403);
    assert.equal(list.json.error.code, 'access_denied');
    assert.match(list.json.error.message, /ask an admin for sessions:read on demo/);

    // Bob recorded this session himself; reading recordings still takes the permission.
    const play = await ks.client.request(`/api/v1/sessions/${bobs.id}/recording`, { token: bob });
    assert.equal(play.status, 403);
    assert.match(play.json.error.message, /ask an admin for sessions:read on demo/);
    assert.doesNotMatch(play.text, /up 3 days/);

    const anonymous = await ks.client.request('/api/v1/apps/demo/sessions');
    assert.equal(anonymous.status, 401);
    const anonymousPlay = await ks.client.request(`/api/v1/sessions/${first.id}/recording`);
    assert.equal(anonymousPlay.status, 401);
  });

  it('answers 400 to bad input and 404 to a session it does not have', async function () {
    const bad = [
      '/api/v1/apps/demo/sessions?limit=0',
      '/api/v1/apps/demo/sessions?limit=abc',
      '/api/v1/apps/demo/sessions?limit=5000',
      '/api/v1/apps/demo/sessions?since=yesterday',
      '/api/v1/apps/demo/sessions?since=400d',
      '/api/v1/apps/demo/sessions?colour=blue',
      '/api/v1/apps/Not_An_App/sessions',
      '/api/v1/sessions/not-a-session/recording',
      `/api/v1/sessions/${first.id.toUpperCase()}/recording`,
    ];
    for (const url of bad) {
      const res = await ks.client.request(url, { token: alice });
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.equal(typeof res.json.error.message, 'string');
    }
    const missing = await ks.client.request(`/api/v1/sessions/${randomUUID()}/recording`, {
      token: alice,
    });
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /neetodeploy sessions -a APP/);
  });

  it('an app without recordings lists none; without a recording key, sessions show verified null', async function () {
    const none = await ks.client.request('/api/v1/apps/other/sessions?user=nobody@example.com', {
      token: alice,
    });
    assert.deepEqual(none.json, { sessions: [] });

    const plain = await startKeysService({ policy: SESSIONS_POLICY });
    try {
      await recordSession(path.join(plain.dataDir, 'recordings'), keyFiles.key, {
        steps: [{ out: 'hi\n' }],
      });
      const res = await plain.client.request('/api/v1/apps/demo/sessions', {
        token: await plain.token(ALICE),
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        res.json.sessions.map((s: { verified: unknown }) => s.verified),
        [null],
      );
    } finally {
      await plain.dispose();
    }
  });
});

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

describe('keys-service sessions API on an S3-compatible store (s3rver)', function () {
  this.timeout(60_000);
  let tmp: string;
  let s3: S3rverInstance | undefined;
  let ks: TestKeysService;
  let keyFiles: RecordingKeyFiles;
  let manifest: RecordingManifest;
  let alice: string;

  before(async function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-sessions-s3-'));
    const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
    s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: tmp,
      configureBuckets: [{ name: 'recordings' }],
    });
    const { port } = await s3.run();
    // The block a bastion's `recording.store` would hold; the keys-service takes it as is.
    const store = {
      kind: 's3' as const,
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket: 'recordings',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestTimeoutMs: 2000,
    };
    keyFiles = makeRecordingKey();
    ks = await startKeysService({
      policy: SESSIONS_POLICY,
      config: { recording: { store, publicKeyFile: keyFiles.publicKeyFile } },
    });
    alice = await ks.token(ALICE);
    // Written with the bastion's defaults (prefix `recordings/`), which the keys-service shares.
    const writer = new S3RecordingStore({ ...store, prefix: 'recordings/', forcePathStyle: true });
    try {
      manifest = await recordSession(writer, keyFiles.key, {
        command: 'echo from-s3',
        steps: [{ out: 'from-s3\n' }],
      });
    } finally {
      await writer.close();
    }
  });

  after(async function () {
    await ks?.dispose();
    await s3?.close();
    if (keyFiles) fs.rmSync(keyFiles.dir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lists (verified) and streams recordings kept in a bucket', async function () {
    const list = await ks.client.request('/api/v1/apps/demo/sessions', { token: alice });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.json.sessions.map((s: { id: string; verified: boolean }) => [s.id, s.verified]),
      [[manifest.id, true]],
    );
    const cast = await ks.client.request(`/api/v1/sessions/${manifest.id}/recording`, {
      token: alice,
    });
    assert.equal(cast.status, 200, cast.text);
    assert.match(cast.text, /\[[\d.]+,"o","from-s3\\n"\]/);
  });

  it('answers 503 saying to try again when the store is down', async function () {
    await s3?.close();
    s3 = undefined;
    const list = await ks.client.request('/api/v1/apps/demo/sessions', { token: alice });
    assert.equal(list.status, 503, list.text);
    assert.equal(list.json.error.code, 'recordings_unavailable');
    assert.match(list.json.error.message, /try again/);
  });
});
