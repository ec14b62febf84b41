/**
 * What the last `neetodeploy ssh-config` wrote into an ssh_config: the API and the bastion's
 * address. ssh_config is a copy the CLI cannot update behind the user's back (it may be pasted
 * anywhere), so when the keys-service later names another bastion (the all-in-one restarted on
 * other ports) or the user logs in to another API, the CLI compares with this record and says to
 * run `ssh-config` again, instead of letting `ssh APP.neetodeploy` fail against an old address.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { CliConfig } from './config.js';
import { writeFileAtomic } from './config.js';

export interface SshConfigRecord {
  readonly apiUrl: string;
  readonly bastionHost: string;
  readonly bastionPort: number;
}

export function sshConfigRecordPath(config: CliConfig): string {
  return path.join(config.dir, 'ssh-config.json');
}

export async function saveSshConfigRecord(
  config: CliConfig,
  record: SshConfigRecord,
): Promise<void> {
  const doc = {
    api_url: record.apiUrl,
    bastion_host: record.bastionHost,
    bastion_port: record.bastionPort,
  };
  await writeFileAtomic(sshConfigRecordPath(config), `${JSON.stringify(doc, null, 2)}\n`, 0o600);
}

/** The record, or undefined when `ssh-config` never ran here (or the file is damaged). */
export async function loadSshConfigRecord(config: CliConfig): Promise<SshConfigRecord | undefined> {
  try {
    const d = JSON.parse(await fsp.readFile(sshConfigRecordPath(config), 'utf8')) as Record<
      string,
      unknown
    >;
    if (
      typeof d.api_url !== 'string' ||
      typeof d.bastion_host !== 'string' ||
      typeof d.bastion_port !== 'number'
    ) {
      return undefined;
    }
    return { apiUrl: d.api_url, bastionHost: d.bastion_host, bastionPort: d.bastion_port };
  } catch {
    return undefined;
  }
}

const RERUN = 'run `neetodeploy ssh-config --install` again (or print it again where you saved it)';

/** A one-line warning when the bastion the API names now is not the one in ssh_config. */
export function bastionMovedWarning(
  record: SshConfigRecord | undefined,
  now: { host: string; port: number },
): string | undefined {
  if (record === undefined) return undefined;
  if (record.bastionHost === now.host && record.bastionPort === now.port) return undefined;
  return `your ssh_config sends ssh to the bastion at ${record.bastionHost}:${record.bastionPort}, but it is now at ${now.host}:${now.port}: ${RERUN}`;
}

/** A one-line warning when ssh_config was written for another API than `apiUrl`. */
export function otherApiWarning(
  record: SshConfigRecord | undefined,
  apiUrl: string,
): string | undefined {
  if (record === undefined || record.apiUrl === apiUrl) return undefined;
  return `your ssh_config was written for the API at ${record.apiUrl}: ${RERUN}`;
}
