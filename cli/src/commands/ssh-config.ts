/**
 * `neetodeploy ssh-config [--install]`: the ssh_config that makes `ssh APP.neetodeploy` work
 * with stock OpenSSH. Two hops, both authenticated with the app's certificate:
 *
 * - the target `APP.neetodeploy` goes through `ProxyJump neetodeploy-jump@%n`;
 * - that jump hop is the same host name with the user `neetodeploy-jump`, which the first Match
 *   block redirects to the bastion. `-i`/`-o` never reach a jump hop, so everything it needs
 *   (address, identity, certificate, known_hosts) is in this file, keyed on `%n`;
 * - `Match exec "neetodeploy ssh-cert %n"` renews the certificate before each connection, in
 *   the ssh the user started only (the jump hop's ssh starts after it and reuses the result);
 * - both hops check the bastion's host key under its own name (HostKeyAlias).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { VHOST_SUFFIX, ensureAppCertificate, knownHostsPath } from '../app-certificates.js';
import type { Deps, CommandResult } from '../deps.js';
import { ensurePrivateDir, writeFileAtomic } from '../config.js';
import { CliError } from '../errors.js';
import { write } from '../io.js';
import { saveSshConfigRecord } from '../ssh-config-record.js';
import { stderrPaint, withSpinner } from '../terminal.js';

export interface SshConfigOptions {
  readonly install?: boolean;
}

export const JUMP_USER = 'neetodeploy-jump';

/** ssh_config arguments: `%` is a token there, and quotes protect spaces. */
function sshConfigPath(p: string, tokenSuffix = ''): string {
  if (p.includes('"'))
    throw new CliError(`cannot use a path with a double quote in ssh_config: ${p}`);
  return `"${p.replace(/%/g, '%%')}${tokenSuffix}"`;
}

/** One word for /bin/sh inside ssh_config's double-quoted `exec` argument. */
function shellWord(word: string): string {
  if (word.includes('"') || word.includes("'")) {
    throw new CliError(`cannot use a path with quotes in ssh_config's Match exec: ${word}`);
  }
  return `'${word.replace(/%/g, '%%')}'`;
}

export interface SshConfigInput {
  readonly bastionHost: string;
  readonly bastionPort: number;
  readonly apiUrl: string;
  readonly configDir: string;
  readonly keysDir: string;
  readonly knownHosts: string;
  readonly selfCommand: readonly string[];
}

export function renderSshConfig(input: SshConfigInput): string {
  const key = sshConfigPath(input.keysDir, '/%n');
  const cert = sshConfigPath(input.keysDir, '/%n-cert.pub');
  const refresh = [
    `NEETODEPLOY_CONFIG_DIR=${shellWord(input.configDir)}`,
    ...input.selfCommand.map(shellWord),
    'ssh-cert',
    '%n',
  ].join(' ');
  const pattern = `*${VHOST_SUFFIX}`;
  return [
    '# Written by `neetodeploy ssh-config`: run it again to update (edits here are lost).',
    `# API ${input.apiUrl}, bastion ${input.bastionHost}:${input.bastionPort}.`,
    `# \`ssh APP${VHOST_SUFFIX}\` opens a one-off console of APP; \`ssh APP:web@APP${VHOST_SUFFIX}\``,
    '# execs into a running web process of APP instead.',
    '',
    '# The jump hop: the bastion itself.',
    `Match originalhost ${pattern} user ${JUMP_USER}`,
    `  HostName ${input.bastionHost}`,
    `  Port ${input.bastionPort}`,
    '  ProxyJump none',
    '',
    // Only the ssh the user started renews: it evaluates this before it starts the jump hop's
    // ssh, which then finds the certificate fresh; one ssh-cert run per connection, not two.
    '# Renews the app certificate before each connection (always succeeds).',
    `Match originalhost ${pattern} !user ${JUMP_USER} exec "${refresh}"`,
    '',
    `Host ${pattern}`,
    `  IdentityFile ${key}`,
    `  CertificateFile ${cert}`,
    `  ProxyJump ${JUMP_USER}@%n`,
    // Both hops are checked under the bastion's name: OpenSSH 9.2 does not match the host
    // certificate's wildcard principal (*.neetodeploy), and the jump hop would otherwise be
    // looked up as [host]:port, which the @cert-authority line does not name.
    `  HostKeyAlias ${input.bastionHost}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${sshConfigPath(input.knownHosts)}`,
    '  StrictHostKeyChecking yes',
    '  ForwardAgent no',
    '  ForwardX11 no',
    '',
  ].join('\n');
}

/** Adds `Include FILE` at the top of ~/.ssh/config unless it is already there. */
export async function installInclude(sshConfigFile: string, includeFile: string): Promise<boolean> {
  const line = `Include ${sshConfigPath(includeFile)}`;
  let current = '';
  try {
    current = await fsp.readFile(sshConfigFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (current.split('\n').some((l) => l.trim() === line)) return false;
  await ensurePrivateDir(path.dirname(sshConfigFile));
  // At the top: an Include after a Host line would only apply to that Host.
  const next = `# Added by \`neetodeploy ssh-config --install\`\n${line}\n\n${current}`;
  const mode = fs.existsSync(sshConfigFile) ? fs.statSync(sshConfigFile).mode & 0o777 : 0o600;
  await writeFileAtomic(sshConfigFile, next, mode);
  return true;
}

export async function runSshConfig(options: SshConfigOptions, deps: Deps): CommandResult {
  const { io, config } = deps;
  const { client } = await deps.api.session();
  const apps = await client.apps();
  const app = apps.find((a) => a.permissions.includes('exec'));
  if (!app) {
    throw new CliError(
      'you may open consoles on no app, so ssh has nothing to reach: ask for the exec permission',
    );
  }
  // One certificate tells where the bastion is and how it identifies itself.
  const host = `${app.name}${VHOST_SUFFIX}`;
  const { issued } = await withSpinner(io, 'asking the keys-service where the bastion is...', () =>
    ensureAppCertificate(client, config, host, { now: new Date(), force: true }),
  );
  if (!issued) throw new CliError('the keys-service issued no certificate');
  // Remembered so that ssh-cert and login can tell when this ssh_config goes stale.
  await saveSshConfigRecord(config, {
    apiUrl: client.apiUrl,
    bastionHost: issued.bastion.host,
    bastionPort: issued.bastion.port,
  });
  const text = renderSshConfig({
    bastionHost: issued.bastion.host,
    bastionPort: issued.bastion.port,
    apiUrl: client.apiUrl,
    configDir: config.dir,
    keysDir: config.keysDir,
    knownHosts: knownHostsPath(config),
    selfCommand: config.selfCommand,
  });
  if (!options.install) {
    await write(io.stdout, text);
    await write(
      io.stderr,
      `${stderrPaint(io).hint(`Save this in an ssh_config file, or run \`neetodeploy ssh-config --install\`; then: ssh ${host}`)}\n`,
    );
    return;
  }
  const file = path.join(config.dir, 'ssh_config');
  await writeFileAtomic(file, text, 0o600);
  const userConfig = path.join(config.home, '.ssh', 'config');
  const added = await installInclude(userConfig, file);
  await write(
    io.stderr,
    `${added ? `Added an Include of ${file} to ${userConfig}` : `${userConfig} already includes ${file}; updated it`}.\nTry: ssh ${host}\n`,
  );
}
