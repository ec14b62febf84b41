import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '@neetodeploy/keys-service';
import { runRepositoryConformance } from '../support/keys-repositories-conformance.js';

let dir: string | undefined;
const file = (): string => path.join(dir!, 'state.sqlite');

runRepositoryConformance('sqlite', {
  create() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-repo-'));
    return Promise.resolve(openSqliteStore(file()));
  },
  async reopen(previous) {
    await previous.close();
    return openSqliteStore(file());
  },
  dispose() {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = undefined;
    return Promise.resolve();
  },
});
