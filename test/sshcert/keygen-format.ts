/** Renders certificate fields the way `ssh-keygen -L` (OpenSSH 9.2) prints them, for comparison. */
import type { CertType, KeyType } from '@neetodeploy/sshcert';

export interface CertFields {
  readonly type: string;
  readonly certType: CertType;
  readonly keyType: KeyType;
  readonly keyFingerprint: string;
  readonly caType: KeyType;
  readonly caFingerprint: string;
  readonly signatureAlgorithm: string;
  readonly keyId: string;
  readonly serial: bigint;
  readonly validAfter: bigint;
  readonly validBefore: bigint;
  readonly principals: readonly string[];
  readonly criticalOptions: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, string>>;
}

const SHORT: Readonly<Record<KeyType, string>> = {
  'ssh-ed25519': 'ED25519',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
  'ssh-rsa': 'RSA',
};

const U64_MAX = 0xffffffffffffffffn;

function time(s: bigint): string {
  return new Date(Number(s) * 1000).toISOString().slice(0, 19);
}

function validity(after: bigint, before: bigint): string {
  if (after === 0n && before === U64_MAX) return 'forever';
  if (after === 0n) return `before ${time(before)}`;
  if (before === U64_MAX) return `after ${time(after)}`;
  return `from ${time(after)} to ${time(before)}`;
}

const KNOWN_EXTENSIONS = new Set([
  'permit-X11-forwarding',
  'permit-agent-forwarding',
  'permit-port-forwarding',
  'permit-pty',
  'permit-user-rc',
  'no-touch-required',
]);

function sshStringHex(value: string): string {
  const b = Buffer.from(value, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]).toString('hex');
}

function options(opts: Readonly<Record<string, string>>, critical: boolean): string[] {
  const names = Object.keys(opts);
  if (names.length === 0) return [];
  return names.map((name) => {
    const value = opts[name]!;
    if (critical && (name === 'force-command' || name === 'source-address'))
      return `${name} ${value}`;
    if (!critical && KNOWN_EXTENSIONS.has(name) && value === '') return name;
    if (critical && name === 'verify-required' && value === '') return name;
    if (value === '') return `${name} UNKNOWN FLAG OPTION`;
    return `${name} UNKNOWN OPTION: ${sshStringHex(value)} (len ${Buffer.byteLength(value) + 4})`;
  });
}

/** The lines after the file name line, trimmed. */
export function renderKeygenL(f: CertFields): string[] {
  const crit = options(f.criticalOptions, true);
  const ext = options(f.extensions, false);
  return [
    `Type: ${f.type} ${f.certType} certificate`,
    `Public key: ${SHORT[f.keyType]}-CERT ${f.keyFingerprint}`,
    `Signing CA: ${SHORT[f.caType]} ${f.caFingerprint} (using ${f.signatureAlgorithm})`,
    `Key ID: "${f.keyId}"`,
    `Serial: ${f.serial}`,
    `Valid: ${validity(f.validAfter, f.validBefore)}`,
    ...(f.principals.length === 0 ? ['Principals: (none)'] : ['Principals:', ...f.principals]),
    ...(crit.length === 0 ? ['Critical Options: (none)'] : ['Critical Options:', ...crit]),
    ...(ext.length === 0 ? ['Extensions: (none)'] : ['Extensions:', ...ext]),
  ];
}

/** `ssh-keygen -L` output without its first line, each line trimmed. */
export function keygenLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
