/**
 * First-start setup of the data dir: the access policy and the first local account. Both are
 * made only when missing, so a restart (or an operator's edits) are never overwritten.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { PERMISSIONS, addUser } from '@neetodeploy/keys-service';
import type { KeysStore } from '@neetodeploy/keys-service';

/**
 * Writes a policy granting `email` every permission on every app, unless a policy file exists.
 * Returns whether it was written.
 */
export function ensurePolicyFile(file: string, email: string): boolean {
  if (fs.existsSync(file)) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const policy = {
    rules: [{ users: [email], apps: ['*'], permissions: [...PERMISSIONS] }],
  };
  const text =
    '# Access policy of this neetodeploy data dir (hot-reloaded). Deny by default: add rules\n' +
    '# for more users or groups; permissions: exec, logs, config:read, config:write, port-forward.\n' +
    toYaml(policy);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return true;
}

export interface FirstAccount {
  readonly email: string;
  /** Set only when the password was generated now (it is shown once, never stored in clear). */
  readonly generatedPassword?: string;
}

/**
 * Makes the first local account when the store has none. Returns it, or undefined when the
 * data dir already had accounts.
 */
export async function ensureFirstAccount(
  store: KeysStore,
  admin: { email: string; password?: string | undefined },
): Promise<FirstAccount | undefined> {
  if ((await store.users.list()).length > 0) return undefined;
  const generated = admin.password === undefined;
  const password = admin.password ?? crypto.randomBytes(15).toString('base64url');
  const user = await addUser(store, { email: admin.email, groups: [], password });
  return { email: user.email, ...(generated ? { generatedPassword: password } : {}) };
}
