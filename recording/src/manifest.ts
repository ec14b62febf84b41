/**
 * Manifests: the canonical bytes that are signed, signing, the signature check and parsing of
 * untrusted manifest JSON.
 */
import { sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isRecordingId } from './layout.js';
import type { RecordingKey } from './keys.js';
import { RECORDING_POLICIES, RecordingError } from './types.js';
import type { RecordingManifest, SessionInfo, StreamBytes } from './types.js';

export type UnsignedManifest = Omit<RecordingManifest, 'signature' | 'keyId'>;

/** JSON with object keys sorted at every depth and no whitespace: one text per value. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What the signature covers: every field but `signature`, canonical JSON, UTF-8. */
export function canonicalManifestBytes(manifest: Omit<RecordingManifest, 'signature'>): Buffer {
  const rest: Record<string, unknown> = { ...manifest };
  delete rest.signature;
  return Buffer.from(canonicalJson(rest), 'utf8');
}

export function signManifest(unsigned: UnsignedManifest, key: RecordingKey): RecordingManifest {
  const withKey = { ...unsigned, keyId: key.keyId };
  const signature = sign(null, canonicalManifestBytes(withKey), key.privateKey).toString('base64');
  return { ...withKey, signature };
}

export function signatureValid(manifest: RecordingManifest, publicKey: KeyObject): boolean {
  try {
    return verify(
      null,
      canonicalManifestBytes(manifest),
      publicKey,
      Buffer.from(manifest.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isStr = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStreamBytes = (v: unknown): v is StreamBytes =>
  isObj(v) && isCount(v.i) && isCount(v.o) && isCount(v.e);
const optStr = (v: unknown): boolean => v === undefined || isStr(v);

function isSessionInfo(v: unknown): v is SessionInfo {
  if (!isObj(v)) return false;
  const exec = v.execRequest;
  return (
    isStr(v.sessionId) &&
    isStr(v.app) &&
    optStr(v.process) &&
    optStr(v.pod) &&
    isStr(v.user) &&
    isStr(v.keyId) &&
    isStr(v.certSerial) &&
    isStr(v.clientAddress) &&
    (v.via === 'direct' || v.via === 'jump') &&
    (v.command === null || isStr(v.command)) &&
    typeof v.pty === 'boolean' &&
    (exec === undefined || (isObj(exec) && isStr(exec.path) && isStr(exec.userAgent))) &&
    (RECORDING_POLICIES as readonly unknown[]).includes(v.policy)
  );
}

/** Checks the shape of untrusted manifest text; throws `manifest-malformed`. */
export function parseManifest(text: string, source: string): RecordingManifest {
  const bad = (why: string): RecordingError =>
    new RecordingError(
      'manifest-malformed',
      `manifest ${source}: ${why}`,
      `the recording's manifest is damaged (${why}): run \`neetodeploy-keys recordings verify\` on it`,
    );
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!isObj(v) || v.version !== 1) throw bad('not a version 1 manifest');
  const ok =
    isStr(v.id) &&
    isRecordingId(v.id) &&
    isSessionInfo(v.session) &&
    isStr(v.startedAt) &&
    isStr(v.endedAt) &&
    (v.exitCode === null || (typeof v.exitCode === 'number' && Number.isInteger(v.exitCode))) &&
    (v.exitSignal === null || isStr(v.exitSignal)) &&
    isCount(v.chunkCount) &&
    isStr(v.finalHash) &&
    /^[0-9a-f]{64}$/.test(v.finalHash) &&
    isCount(v.storedBytes) &&
    isStreamBytes(v.bytes) &&
    isStreamBytes(v.recordedBytes) &&
    isStreamBytes(v.droppedBytes) &&
    isCount(v.limitBytes) &&
    optStr(v.incomplete) &&
    isStr(v.keyId) &&
    isStr(v.signature);
  if (!ok) throw bad('a field is missing or has the wrong type');
  return v as unknown as RecordingManifest;
}
