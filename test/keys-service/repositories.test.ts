import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '@neetodeploy/keys-service';
import type { SqliteSynchronous } from '@neetodeploy/keys-service';
import { runRepositoryConformance } from '../support/keys-repositories-conformance.js';

for (const synchronous of [undefined, 'full'] as const) {
  let dir: string | undefined;
  const file = (): string => path.join(dir!, 'state.sqlite');
  const options = synchronous ? { synchronous } : {};

  runRepositoryConformance(synchronous ? `sqlite (synchronous=${synchronous})` : 'sqlite', {
    create() {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-repo-'));
      return Promise.resolve(openSqliteStore(file(), options));
    },
    async reopen(previous) {
      await previous.close();
      return openSqliteStore(file(), options);
    },
    dispose() {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      dir = undefined;
      return Promise.resolve();
    },
  });
}

describe('keys-service sqlite store: journal', function () {
  let dir: string;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-journal-'));
  });

  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('commits every acknowledged write to the WAL before resolving, for each synchronous mode', async function () {
    for (const synchronous of ['normal', 'full'] as SqliteSynchronous[]) {
      const file = path.join(dir, `${synchronous}.sqlite`);
      const store = openSqliteStore(file, { synchronous });
      try {
        await store.audit.append({
          type: 'certificate.issued',
          at: new Date(),
          actor: 'a@example.com',
          details: { serial: '1' },
        });
        // A second connection (as after a kill: the WAL, not this process's memory) sees it.
        const other = new Database(file, { readonly: true });
        try {
          assert.equal(other.pragma('journal_mode', { simple: true }), 'wal');
          const row = other.prepare('SELECT COUNT(*) AS n FROM audit_events').get() as {
            n: number;
          };
          assert.equal(row.n, 1, synchronous);
        } finally {
          other.close();
        }
      } finally {
        await store.close();
      }
    }
  });
});

describe('keys-service sqlite store: schema upgrade', function () {
  it('opens a schema-1 database (no identity-provider column) and keeps its users and tokens', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-schema-'));
    const file = path.join(dir, 'state.sqlite');
    try {
      // The users table exactly as schema 1 created it, with one account in it.
      const old = new Database(file);
      old.exec(`CREATE TABLE users (email TEXT PRIMARY KEY, groups_json TEXT NOT NULL,
        password_hash TEXT, created_at INTEGER NOT NULL)`);
      old.prepare('INSERT INTO users VALUES (?, ?, ?, ?)').run('a@example.com', '["ops"]', 'h', 1);
      old.pragma('user_version = 1');
      old.close();
      const store = openSqliteStore(file);
      try {
        const user = await store.users.get('a@example.com');
        assert.deepEqual(user?.groups, ['ops']);
        assert.equal(user?.passwordHash, 'h');
        assert.equal(user?.idp, undefined);
        const at = new Date(5000);
        await store.users.upsert({ ...user, idp: { subject: 's', groupsCheckedAt: at } });
        assert.deepEqual((await store.users.get('a@example.com'))?.idp, {
          subject: 's',
          groupsCheckedAt: at,
        });
      } finally {
        await store.close();
      }
      const reopened = new Database(file, { readonly: true });
      assert.equal(reopened.pragma('user_version', { simple: true }), 2);
      reopened.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
