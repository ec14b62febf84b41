import fs from 'node:fs';
import {
  SshCertError,
  createKrl,
  parseKrl,
  type Krl,
  type KrlCertSection,
} from '@neetodeploy/sshcert';
import type { AdminDeps } from './deps.js';
import { AdminError, CheckFailed, UsageError } from './errors.js';
import { parseSerialRange, readCertificateFile, readPublicKeysFile, resolvePath } from './parse.js';

export interface KrlCreateOptions {
  readonly out: string;
  readonly caPub?: string;
  readonly serial?: readonly string[];
  readonly keyId?: readonly string[];
  /** Public key files whose keys (plain, or certified by any CA) are revoked outright. */
  readonly revokeKey?: readonly string[];
  readonly comment?: string;
}

/** Writes a binary KRL revoking serials (N or N-M) and key ids, for one CA or for any CA. */
export function runKrlCreate(options: KrlCreateOptions, deps: AdminDeps): void {
  const serialRanges = (options.serial ?? []).map(parseSerialRange);
  const keyIds = [...(options.keyId ?? [])];
  if (keyIds.some((id) => id.length === 0)) throw new UsageError('--key-id: must not be empty');
  const revokedKeys = (options.revokeKey ?? []).flatMap((f) =>
    readPublicKeysFile(resolvePath(deps.cwd, f), 'public key'),
  );
  if (serialRanges.length === 0 && keyIds.length === 0 && revokedKeys.length === 0) {
    throw new UsageError('give at least one --serial, --key-id or --revoke-key to revoke');
  }
  if (serialRanges.length > 0 && options.caPub === undefined) {
    // Serials are only unique per CA; a serial revoked for every CA is almost always a mistake.
    throw new UsageError('--serial needs --ca-pub (serials are only meaningful per CA)');
  }
  const sections: KrlCertSection[] = [];
  if (options.caPub !== undefined) {
    const cas = readPublicKeysFile(resolvePath(deps.cwd, options.caPub), 'CA public key');
    for (const caKey of cas) sections.push({ caKey, serialRanges, keyIds });
  } else if (keyIds.length > 0) {
    sections.push({ serialRanges: [], keyIds });
  }
  const out = resolvePath(deps.cwd, options.out);
  let blob: Buffer;
  try {
    blob = createKrl({
      certSections: sections,
      revokedKeys,
      now: deps.now(),
      ...(options.comment === undefined ? {} : { comment: options.comment }),
    });
  } catch (err) {
    if (err instanceof SshCertError) throw new UsageError(err.message);
    throw err;
  }
  try {
    fs.writeFileSync(out, blob, { mode: 0o644 });
  } catch (err) {
    throw new AdminError(
      `cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  deps.io.stdout.write(`${out}\n`);
}

export interface KrlCheckOptions {
  readonly krl: string;
  readonly cert: string;
}

function readKrl(file: string): Krl {
  let blob: Buffer;
  try {
    blob = fs.readFileSync(file);
  } catch (err) {
    throw new AdminError(
      `cannot read KRL ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  try {
    return parseKrl(blob);
  } catch (err) {
    if (err instanceof SshCertError) throw new AdminError(`KRL ${file}: ${err.message}`);
    throw err;
  }
}

/** Prints `revoked` (and fails) or `not revoked` for a certificate file against a KRL file. */
export function runKrlCheck(options: KrlCheckOptions, deps: AdminDeps): void {
  const krl = readKrl(resolvePath(deps.cwd, options.krl));
  const cert = readCertificateFile(resolvePath(deps.cwd, options.cert));
  if (krl.isRevoked(cert)) {
    deps.io.stdout.write(`${options.cert}: revoked\n`);
    throw new CheckFailed('revoked');
  }
  deps.io.stdout.write(`${options.cert}: not revoked\n`);
}
