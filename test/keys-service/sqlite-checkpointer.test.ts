/**
 * WAL checkpoints on a worker thread (`backgroundCheckpoints`), seen from outside: the database
 * file is where checkpointed pages land, so its size says whether (and when) a checkpoint ran,
 * and a leftover `-wal` file after close says some connection is still open.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '@neetodeploy/keys-service';
import type { KeysStore } from '@neetodeploy/keys-service';
import { waitUntil } from '../support/wait.js';

/** Roughly one SQLite page per event, so a few hundred events are a few hundred WAL frames. */
const FILLER = 'f'.repeat(3000);

async function appendEvents(store: KeysStore, count: number, from = 0): Promise<void> {
  const at = new Date();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      store.audit.append({
        type: 'checkpoint.test',
        at,
        actor: 'alice@example.com',
        details: { n: from + i, filler: FILLER },
      }),
    ),
  );
}

const sizeOf = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).size : 0);

async function timed<T>(work: Promise<T>): Promise<number> {
  const started = performance.now();
  await work;
  return performance.now() - started;
}

describe('keys-service sqlite store: background WAL checkpoints', function () {
  let dir: string;
  let file: string;
  let store: KeysStore | undefined;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-checkpoint-'));
    file = path.join(dir, 'state.sqlite');
  });

  afterEach(async function () {
    await store?.close();
    store = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies the WAL into the database file on its own, while appends go on', async function () {
    store = openSqliteStore(file, { backgroundCheckpoints: { intervalMs: 20 } });
    const initial = sizeOf(file);
    // Appends in several commits, some of them while checkpoints run.
    for (let round = 0; round < 4; round++) await appendEvents(store, 100, round * 100);
    assert.ok(sizeOf(`${file}-wal`) > 0, 'commits go to the WAL');
    // 400 pages of events: nothing reaches the database file but a checkpoint.
    await waitUntil(
      'a checkpoint to grow the database file',
      () => sizeOf(file) >= initial + 400 * 3000,
      5000,
    );
    const events = await store.audit.list({ type: 'checkpoint.test', limit: 1000 });
    assert.equal(events.length, 400);
  });

  it('keeps every event across close and reopen, and closes promptly and completely', async function () {
    store = openSqliteStore(file, { backgroundCheckpoints: { intervalMs: 20 } });
    await appendEvents(store, 300);
    const closing = store.close();
    store = undefined;
    assert.ok((await timed(closing)) < 2000, 'close() took 2 s or more');
    // SQLite removes the WAL when its last connection closes: none is left, not even the
    // checkpoint worker's, and everything is in the database file.
    assert.equal(fs.existsSync(`${file}-wal`), false, 'a connection is still open after close()');
    assert.ok(sizeOf(file) >= 300 * 3000);

    store = openSqliteStore(file);
    const events = await store.audit.list({ type: 'checkpoint.test', limit: 1000 });
    assert.equal(events.length, 300);
    assert.deepEqual(
      events.map((e) => e.details.n).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 300 }, (_, i) => i),
    );
  });

  it('closes promptly right after opening, before any checkpoint ran', async function () {
    store = openSqliteStore(file, { backgroundCheckpoints: { intervalMs: 60_000 } });
    const closing = store.close();
    store = undefined;
    assert.ok((await timed(closing)) < 2000);
    assert.equal(fs.existsSync(`${file}-wal`), false);
  });

  it('close() is idempotent', async function () {
    const opened = openSqliteStore(file, { backgroundCheckpoints: { intervalMs: 20 } });
    await appendEvents(opened, 10);
    await Promise.all([opened.close(), opened.close()]);
    await opened.close();
    store = openSqliteStore(file);
    assert.equal((await store.audit.list({ type: 'checkpoint.test' })).length, 10);
  });

  describe('who checkpoints', function () {
    // More than SQLite's automatic checkpoint threshold (1000 pages) of WAL.
    const EVENTS = 1500;

    it('without the option, commits checkpoint by themselves (SQLite default)', async function () {
      store = openSqliteStore(file);
      const initial = sizeOf(file);
      for (let round = 0; round < EVENTS / 250; round++)
        await appendEvents(store, 250, round * 250);
      // Synchronously inside a commit: no wait needed.
      assert.ok(
        sizeOf(file) > initial + 500 * 3000,
        `database file ${sizeOf(file)} bytes: no automatic checkpoint ran`,
      );
    });

    it('with the option, commits leave checkpoints to the worker', async function () {
      // An interval longer than the test: the worker does not run one before close.
      store = openSqliteStore(file, { backgroundCheckpoints: { intervalMs: 60_000 } });
      const initial = sizeOf(file);
      for (let round = 0; round < EVENTS / 250; round++)
        await appendEvents(store, 250, round * 250);
      assert.equal(sizeOf(file), initial, 'a commit checkpointed the WAL itself');
      assert.ok(sizeOf(`${file}-wal`) > EVENTS * 3000);
      // Closing moves it all into the database file.
      await store.close();
      store = undefined;
      assert.ok(sizeOf(file) > initial + EVENTS * 3000);
      assert.equal(fs.existsSync(`${file}-wal`), false);
    });
  });
});
