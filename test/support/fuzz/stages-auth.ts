/**
 * The userauth stage: a client with a valid certificate whose USERAUTH_REQUEST is mutated in
 * plaintext (bytes or one field), a mutated certificate presented with a genuine proof of
 * possession (re-signed over the session id), certificates the CA really signed but with a
 * defect, and requests for channels and forwards pipelined before authentication.
 */
import {
  encodePrivateKey,
  signCertificate,
  signData,
  type CertificateRequest,
  type PrivateKey,
} from '@neetodeploy/sshcert';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { mutateCertificate } from './certificate.js';
import { publicKeyAuth, runClientCase } from './client-case.js';
import { mutateBytes, sshString } from './mutate.js';
import type { Rng } from './prng.js';
import {
  MSG,
  channelOpenPayload,
  channelRequestPayload,
  decodeFieldsPrefix,
  globalRequestPayload,
  mutateUserauth,
  randomMessage,
  userauthFields,
} from './ssh-messages.js';
import { watchServer, type CaseReport, type Stage, type StageContext } from './stage-types.js';

/** Whether a USERAUTH_REQUEST carries a signature (the second, real attempt). */
function isSigned(payload: Buffer): boolean {
  if (payload[0] !== MSG.USERAUTH_REQUEST) return false;
  const head = decodeFieldsPrefix(payload, ['u8', 'string', 'string', 'string', 'u8']);
  return head !== undefined && head.fields[4]!.value[0] === 1;
}

/** Re-signs a publickey USERAUTH_REQUEST with `key` over the session id (RFC 4252 §7). */
function resigned(payload: Buffer, keyBlob: Buffer, key: PrivateKey, sessionId: Buffer): Buffer {
  const head = decodeFieldsPrefix(payload, ['u8', 'string', 'string', 'string', 'u8', 'string']);
  const f = head!.fields;
  const unsigned = Buffer.concat([
    Buffer.from([MSG.USERAUTH_REQUEST]),
    sshString(f[1]!.value),
    sshString(f[2]!.value),
    sshString(f[3]!.value),
    Buffer.from([1]),
    sshString(f[5]!.value),
    sshString(keyBlob),
  ]);
  const signature = signData(key, Buffer.concat([sshString(sessionId), unsigned]));
  return Buffer.concat([unsigned, sshString(signature)]);
}

type Mode = 'packet-bytes' | 'packet-field' | 'resigned-cert' | 'defective-cert' | 'pipelined';

async function mutatedRequest(ctx: StageContext, rng: Rng, mode: Mode): Promise<CaseReport> {
  const which = mode === 'resigned-cert' || rng.chance(0.7) ? 'signed' : 'query';
  let original: Buffer | undefined;
  let sent: Buffer | undefined;
  let lastWasMutated = false;
  let acceptedMutated = false;
  const r = await runClientCase({
    port: ctx.port,
    config: publicKeyAuth(ctx.user.ssh2Key),
    timeoutMs: 3000,
    setup: (tap) => {
      // ssh2 waits for each answer before its next request: a USERAUTH_SUCCESS answers the
      // request sent last. The client may retry intact after a refusal; that success is fine.
      tap.onReceive = (payload) => {
        if (payload[0] === MSG.USERAUTH_SUCCESS && lastWasMutated) acceptedMutated = true;
      };
      tap.onSend = (payload) => {
        if (payload[0] === MSG.USERAUTH_REQUEST) lastWasMutated = false;
        if (sent || payload[0] !== MSG.USERAUTH_REQUEST) return undefined;
        if (isSigned(payload) !== (which === 'signed')) return undefined;
        original = Buffer.from(payload);
        if (mode === 'resigned-cert') {
          const sessionId = tap.sessionId();
          if (!sessionId || !isSigned(payload)) return undefined;
          const blob = mutateCertificate(ctx.user.cert, rng).blob;
          if (blob.equals(ctx.user.cert)) return undefined;
          sent = resigned(payload, blob, ctx.user.key, sessionId);
        } else if (mode === 'packet-bytes') {
          sent = mutateBytes(payload, rng);
          if (rng.chance(0.8) && sent.length) sent[0] = MSG.USERAUTH_REQUEST;
        } else {
          sent = mutateUserauth(payload, rng, (k) => mutateCertificate(k, rng).blob);
        }
        lastWasMutated = true;
        return sent;
      };
    },
  });
  const outcome = `${which}:${sent ? r.result : 'not-reached'}`;
  if (!acceptedMutated || !sent || !original) return { outcome };
  // Accepted a mutated request: fine only if every field that decides authentication is the
  // same (e.g. bytes appended after the signature).
  const same =
    userauthFields(sent) !== undefined && userauthFields(sent) === userauthFields(original);
  return same
    ? { outcome: `${outcome}:same-fields` }
    : {
        outcome,
        failure: `${mode}: authenticated with a mutated request ${sent.toString('base64')}`,
      };
}

type Defect =
  | 'expired'
  | 'not-yet-valid'
  | 'host'
  | 'unknown-critical'
  | 'source-address'
  | 'untrusted-ca'
  | 'other-key'
  | 'other-principal';
const DEFECTS: readonly Defect[] = [
  'expired',
  'not-yet-valid',
  'host',
  'unknown-critical',
  'source-address',
  'untrusted-ca',
  'other-key',
  'other-principal',
];

function defectiveKey(ctx: StageContext, defect: Defect): ParsedKey {
  const now = new Date();
  const request: CertificateRequest = {
    publicKey: ctx.user.key.publicKey,
    certType: defect === 'host' ? 'host' : 'user',
    keyId: 'fuzz@example.com:defect',
    principals: [defect === 'other-principal' ? 'other' : 'demo'],
    ttlSeconds: 300,
    now:
      defect === 'expired'
        ? new Date(now.getTime() - 3_600_000)
        : defect === 'not-yet-valid'
          ? new Date(now.getTime() + 3_600_000)
          : now,
    extensions: { 'permit-pty': '' },
    ...(defect === 'unknown-critical' ? { criticalOptions: { 'verify-required': '' } } : {}),
    ...(defect === 'source-address' ? { criticalOptions: { 'source-address': '10.0.0.0/8' } } : {}),
  };
  const subject = defect === 'other-key' ? ctx.otherCa : undefined;
  const cert = signCertificate(
    subject ? { ...request, publicKey: subject.publicKey } : request,
    defect === 'untrusted-ca' ? ctx.otherCa : ctx.ca,
  );
  // Presented as the CLI would, but without its checks (it refuses host certificates and
  // certificates of another key): ssh2 signs with our key and sends this blob.
  const parsed = ssh2.utils.parseKey(encodePrivateKey(ctx.user.key)) as ParsedKey | ParsedKey[];
  const mine = Array.isArray(parsed) ? parsed[0]! : parsed;
  const blob = cert.blob;
  return Object.create(mine, {
    type: { value: cert.type },
    getPublicSSH: { value: () => Buffer.from(blob) },
  }) as ParsedKey;
}

async function defective(ctx: StageContext, rng: Rng): Promise<CaseReport> {
  const defect = rng.pick(DEFECTS);
  const key = defectiveKey(ctx, defect);
  let output = '';
  const r = await runClientCase({
    port: ctx.port,
    config: publicKeyAuth(key),
    timeoutMs: 3000,
    // A certificate that does not name the app still logs in, for ProxyJump to the apps it
    // names ("jump-only"), but no console of `demo` may run for it: the fuzz platform's
    // consoles announce themselves on stdout.
    afterReady: (client) =>
      new Promise<void>((resolve) => {
        client.exec('true', (err, ch) => {
          if (err) return resolve();
          ch.on('data', (c: Buffer) => (output += c.toString('latin1')));
          ch.stderr.resume();
          ch.on('close', () => resolve());
        });
      }),
  });
  const outcome = `${defect}:${r.result}`;
  if (r.result === 'ready' && defect !== 'other-principal')
    return { outcome, failure: `a ${defect} certificate authenticated` };
  if (output.includes('fuzz console'))
    return { outcome, failure: `a ${defect} certificate ran a console` };
  return { outcome };
}

async function pipelined(ctx: StageContext, rng: Rng): Promise<CaseReport> {
  const withCert = rng.chance(0.5);
  let watch: ReturnType<typeof watchServer> | undefined;
  let injected = 0;
  const r = await runClientCase({
    port: ctx.port,
    config: withCert
      ? publicKeyAuth(ctx.user.ssh2Key)
      : { username: 'demo', authHandler: ['none'] },
    timeoutMs: 3000,
    setup: (tap) => {
      watch = watchServer(tap);
      tap.onSend = (payload) => {
        if (injected || payload[0] !== MSG.USERAUTH_REQUEST) return undefined;
        for (let i = 1 + rng.int(4); i > 0; i--, injected++) {
          const kind = rng.int(5);
          tap.inject(
            kind === 0
              ? channelOpenPayload(rng, rng.int(4))
              : kind === 1
                ? channelRequestPayload(rng, rng.int(4)).payload
                : kind === 2
                  ? globalRequestPayload(rng).payload
                  : randomMessage(
                      rng,
                      kind === 3 ? [50, 51, 52, 60, 61, 62, 63, 64, 65, 66, 79] : undefined,
                    ),
          );
        }
        return undefined;
      };
    },
  });
  const outcome = `${withCert ? 'cert' : 'none'}:${injected ? r.result : 'not-reached'}`;
  if (watch?.grantsBeforeAuth.length)
    return {
      outcome,
      failure: `granted before authentication: ${watch.grantsBeforeAuth.join(', ')}`,
    };
  if (!withCert && watch?.authenticated)
    return { outcome, failure: 'none authentication accepted' };
  return { outcome };
}

export const userauthStage: Stage = {
  name: 'userauth',
  description:
    'USERAUTH_REQUEST bytes/fields, re-signed mutated certs, defective certs, pipelining',
  run(ctx: StageContext, rng: Rng): Promise<CaseReport> {
    const mode = rng.pick<Mode>([
      'packet-bytes',
      'packet-field',
      'resigned-cert',
      'resigned-cert',
      'defective-cert',
      'pipelined',
    ]);
    const label = (p: Promise<CaseReport>): Promise<CaseReport> =>
      p.then((c) => ({ ...c, outcome: `${mode}:${c.outcome}` }));
    if (mode === 'defective-cert') return label(defective(ctx, rng));
    if (mode === 'pipelined') return label(pipelined(ctx, rng));
    return label(mutatedRequest(ctx, rng, mode));
  },
};
