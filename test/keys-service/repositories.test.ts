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
