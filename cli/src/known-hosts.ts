/**
 * The bastion's identity as the keys-service hands it out: a known_hosts line, either
 * `@cert-authority PATTERNS <host CA key>` or `PATTERNS <pinned host key>`. Used by `exec`'s
 * ssh2 host verifier and written for stock ssh by `ssh-config`.
 */
import {
  isCertificateAlgorithm,
  parseCertificate,
  parsePublicKey,
  verifyCertificate,
} from '@neetodeploy/sshcert';
import type { PublicKey } from '@neetodeploy/sshcert';

export interface KnownHostsEntry {
  readonly certAuthority: boolean;
  readonly patterns: readonly string[];
  readonly key: PublicKey;
}

/** Parses the lines it understands; comments, blanks and other markers are skipped. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let certAuthority = false;
    if (fields[0]?.startsWith('@')) {
      if (fields[0] !== '@cert-authority') continue;
      certAuthority = true;
      fields.shift();
    }
    const [patterns, , data] = fields;
    if (!patterns || !data) continue;
    try {
      entries.push({
        certAuthority,
        patterns: patterns.split(','),
        key: parsePublicKey(Buffer.from(data, 'base64')),
      });
    } catch {
      continue;
    }
  }
  return entries;
}

function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (const ch of pattern.toLowerCase()) {
    re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's').test(name.toLowerCase());
}

/** OpenSSH semantics: any positive pattern matches and no `!negated` one does. */
export function hostMatches(patterns: readonly string[], names: readonly string[]): boolean {
  return names.some((name) => {
    let matched = false;
    for (const p of patterns) {
      if (p.startsWith('!')) {
        if (globMatch(p.slice(1), name)) return false;
      } else if (globMatch(p, name)) matched = true;
    }
    return matched;
  });
}

/** The names a host is looked up by in known_hosts: `host` on port 22, else `[host]:port`. */
export function lookupNames(host: string, port: number): string[] {
  return port === 22 ? [host] : [`[${host}]:${port}`, host];
}

export type HostCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks the host key blob a server presented: a host certificate signed by a trusted
 * `@cert-authority` entry naming `host` (as principal and pattern), or a plain key pinned for it.
 */
export function checkHostKey(
  blob: Buffer,
  entries: readonly KnownHostsEntry[],
  target: { host: string; port: number; now: Date },
): HostCheck {
  const names = lookupNames(target.host, target.port);
  let type: string;
  try {
    type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
  } catch {
    return { ok: false, reason: 'the server sent a malformed host key' };
  }
  if (isCertificateAlgorithm(type)) {
    const authorities = entries
      .filter((e) => e.certAuthority && hostMatches(e.patterns, names))
      .map((e) => e.key);
    if (authorities.length === 0)
      return { ok: false, reason: 'no host CA is trusted for this bastion' };
    let cert;
    try {
      cert = parseCertificate(blob);
    } catch {
      return { ok: false, reason: 'the server sent a malformed host certificate' };
    }
    const result = verifyCertificate(cert, {
      trustedCAs: authorities,
      now: target.now,
      certType: 'host',
      principal: target.host,
    });
    return result.ok
      ? { ok: true }
      : { ok: false, reason: `host certificate refused: ${result.message}` };
  }
  const pinned = entries.filter((e) => !e.certAuthority && hostMatches(e.patterns, names));
  if (pinned.some((e) => e.key.blob.equals(blob))) return { ok: true };
  if (pinned.length > 0) {
    return {
      ok: false,
      reason: 'the bastion presented a host key different from the one the keys-service pins',
    };
  }
  return {
    ok: false,
    reason:
      'the bastion presented a plain host key but only a host CA is trusted (the keys-service must pin the key for this client)',
  };
}

/**
 * known_hosts text for stock ssh: the line as given, plus, for a pinned key, the same key for
 * the names ssh_config makes ssh look up: the bastion's host name (its `HostKeyAlias`) and
 * `*.neetodeploy` (the virtual hosts reached through ProxyJump).
 */
export function knownHostsFileText(line: string, names: readonly string[]): string {
  const lines = line
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const out = [...lines];
  for (const l of lines) {
    if (l.startsWith('@')) continue;
    const fields = l.split(/\s+/);
    if (fields.length >= 3) out.push([names.join(','), ...fields.slice(1)].join(' '));
  }
  return `${out.join('\n')}\n`;
}
