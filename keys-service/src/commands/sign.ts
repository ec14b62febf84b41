import fs from 'node:fs';
import {
  SshCertError,
  encodeCertificateText,
  matchSourceAddress,
  signCertificate,
} from '@neetodeploy/sshcert';
import type { AdminDeps } from './deps.js';
import { AdminError, UsageError } from './errors.js';
import { MAX_SIGNED_USER_CERTIFICATE_SECONDS } from '../domain/index.js';
import {
  parseDuration,
  parseSerial,
  readPrivateKeyFile,
  readPublicKeysFile,
  resolvePath,
} from './parse.js';

export interface SignOptions {
  readonly ca: string;
  readonly key: string;
  readonly principals: string;
  readonly ttl: string;
  readonly id: string;
  readonly host?: boolean;
  readonly serial?: string;
  readonly extension?: readonly string[];
  readonly critical?: readonly string[];
}

/**
 * What `ssh-keygen -s` grants a user certificate when no `-O` option is given. `sign` grants the
 * same unless `--extension` is used, in which case exactly the listed extensions are granted.
 */
export const SSH_KEYGEN_DEFAULT_EXTENSIONS: Readonly<Record<string, string>> = {
  'permit-X11-forwarding': '',
  'permit-agent-forwarding': '',
  'permit-port-forwarding': '',
  'permit-pty': '',
  'permit-user-rc': '',
};

function splitNameValue(text: string, what: string, valueRequired: boolean): [string, string] {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? '' : text.slice(eq + 1);
  if (name.length === 0) throw new UsageError(`${what}: missing name in ${JSON.stringify(text)}`);
  if (valueRequired && eq < 0)
    throw new UsageError(`${what}: expected name=value, got ${JSON.stringify(text)}`);
  return [name, value];
}

/** `<key>.pub` → `<key>-cert.pub`, as ssh-keygen names it. */
export function certificatePathFor(keyFile: string): string {
  return `${keyFile.endsWith('.pub') ? keyFile.slice(0, -4) : keyFile}-cert.pub`;
}

/** Signs a public key file with a CA private key and writes `<key>-cert.pub` beside it. */
export function runSign(options: SignOptions, deps: AdminDeps): void {
  const principals = options.principals
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (principals.length === 0)
    throw new UsageError('--principals: at least one principal is required');
  if (options.id.length === 0) throw new UsageError('--id: the key id must not be empty');
  const ttlSeconds = parseDuration(options.ttl);
  const serial = options.serial === undefined ? undefined : parseSerial(options.serial);
  const certType = options.host ? 'host' : 'user';
  // Revocations are forgotten once no credential could outlive them; a longer user
  // certificate would come back to life when its revocation is pruned.
  if (certType === 'user' && ttlSeconds > MAX_SIGNED_USER_CERTIFICATE_SECONDS) {
    throw new UsageError(
      '--ttl: a user certificate may be valid for at most 365 days (revocations are kept that long); use a shorter --ttl',
    );
  }

  const criticalOptions: Record<string, string> = {};
  for (const c of options.critical ?? []) {
    const [name, value] = splitNameValue(c, '--critical', true);
    if (name in criticalOptions) throw new UsageError(`--critical: ${name} given twice`);
    if (name === 'source-address') {
      try {
        matchSourceAddress(value, '127.0.0.1');
      } catch (err) {
        throw new UsageError(`--critical source-address: ${(err as Error).message}`);
      }
    }
    criticalOptions[name] = value;
  }
  let extensions: Record<string, string> = {};
  if (options.extension && options.extension.length > 0) {
    for (const e of options.extension) {
      const [name, value] = splitNameValue(e, '--extension', false);
      if (name in extensions) throw new UsageError(`--extension: ${name} given twice`);
      extensions[name] = value;
    }
  } else if (certType === 'user') {
    extensions = { ...SSH_KEYGEN_DEFAULT_EXTENSIONS };
  }

  const ca = readPrivateKeyFile(resolvePath(deps.cwd, options.ca), 'CA key');
  const keyFile = resolvePath(deps.cwd, options.key);
  const keys = readPublicKeysFile(keyFile, 'public key');
  if (keys.length !== 1) throw new AdminError(`public key ${keyFile}: expected exactly one key`);
  const publicKey = keys[0]!;

  let text: string;
  let cert;
  try {
    cert = signCertificate(
      {
        publicKey,
        certType,
        keyId: options.id,
        principals,
        ttlSeconds,
        now: deps.now(),
        criticalOptions,
        extensions,
        ...(serial === undefined ? {} : { serial }),
      },
      ca,
    );
    text = encodeCertificateText(cert, publicKey.comment);
  } catch (err) {
    if (err instanceof SshCertError) throw new AdminError(`cannot sign: ${err.message}`);
    throw err;
  }
  const out = certificatePathFor(keyFile);
  try {
    fs.writeFileSync(out, `${text}\n`, { mode: 0o644 });
  } catch (err) {
    throw new AdminError(
      `cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  deps.io.stdout.write(`${out}\n`);
  deps.io.stderr.write(
    `Signed ${certType} key ${out}: id ${JSON.stringify(cert.keyId)} serial ${cert.serial} for ` +
      `${principals.join(',')} valid from ${isoOf(cert.validAfter)} to ${isoOf(cert.validBefore)}\n`,
  );
}

export function isoOf(seconds: bigint): string {
  if (seconds === 0xffffffffffffffffn) return 'forever';
  if (seconds > 8640000000000n) return `${seconds}`;
  return new Date(Number(seconds) * 1000).toISOString().replace('.000Z', 'Z');
}
