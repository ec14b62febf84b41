/**
 * Login sessions shaped on RFC 8628 (device authorization grant): the CLI creates one and polls;
 * the user approves it on the /device pages. A device code yields a token at most once.
 */
import crypto from 'node:crypto';
import type { LoginPollErrorCode, LoginSession } from '@neetodeploy/contract';
import { BadRequest, Conflict, NotFound } from '@neetodeploy/platform';
import { EVENTS } from '../events.js';
import type { LoginSessionRecord } from '../storage/index.js';
import type { DomainContext } from './context.js';
import { recordAudit } from './context.js';
import type { MintedToken } from './tokens.js';
import { hashSecret, mintToken, revokeReplacedToken } from './tokens.js';

/** RFC 8628 §6.1: consonants only, no vowels (no words), no look-alikes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
/** RFC 8628 §3.5: each slow_down adds 5 seconds. */
const SLOW_DOWN_STEP = 5;
const MAX_INTERVAL = 60;

export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++)
    code += USER_CODE_ALPHABET[crypto.randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** `ABCD-EFGH` for display. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Accepts what a user types (any case, dashes, spaces); undefined if it cannot be a code. */
export function normaliseUserCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return code;
}

export async function createLoginSession(
  ctx: DomainContext,
  input: { clientDescription: string; clientIp: string; baseUrl: string },
): Promise<LoginSession> {
  const { ttlSeconds, intervalSeconds } = ctx.config.loginSessions;
  const deviceCode = crypto.randomBytes(32).toString('base64url');
  for (let attempt = 0; ; attempt++) {
    const now = ctx.clock();
    const userCode = generateUserCode();
    const record: LoginSessionRecord = {
      deviceCodeHash: hashSecret(deviceCode),
      userCode,
      clientDescription: input.clientDescription,
      clientIp: input.clientIp,
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      intervalSeconds,
      state: 'pending',
    };
    try {
      await ctx.store.loginSessions.create(record);
    } catch (err) {
      // A live session already holds this user code (1 in 2.5e10): draw another.
      if (err instanceof Conflict && attempt < 5) continue;
      throw err;
    }
    ctx.logger.info(
      {
        event: EVENTS.loginSessionCreated,
        client: input.clientDescription,
        clientIp: input.clientIp,
      },
      'login session created',
    );
    const display = formatUserCode(userCode);
    const verification = new URL('/device', input.baseUrl).toString();
    return {
      device_code: deviceCode,
      user_code: display,
      verification_uri: verification,
      verification_uri_complete: `${verification}?code=${encodeURIComponent(display)}`,
      interval: intervalSeconds,
      expires_in: ttlSeconds,
    };
  }
}

/** RFC 8628 §3.5 answers to a poll: the contract's error codes, or the token. */
export type PollResult =
  | { readonly status: Exclude<LoginPollErrorCode, 'slow_down'> }
  | { readonly status: 'slow_down'; readonly interval: number }
  | { readonly status: 'approved'; readonly token: MintedToken };

export async function pollLoginSession(
  ctx: DomainContext,
  input: {
    deviceCode: string;
    clientIp?: string;
    /** The token this login replaces in the CLI: revoked once the new one is issued. */
    replacesToken?: string;
  },
): Promise<PollResult> {
  const hash = hashSecret(input.deviceCode);
  const session = await ctx.store.loginSessions.findByDeviceCodeHash(hash);
  if (!session) return { status: 'invalid_grant' };
  const now = ctx.clock();
  if (session.state === 'redeemed') return { status: 'invalid_grant' };
  if (session.expiresAt.getTime() <= now.getTime()) return { status: 'expired_token' };

  // Timers in clients fire a little early; 10% slack keeps honest clients out of slow_down.
  const minGapMs = session.intervalSeconds * 1000 * 0.9;
  if (session.lastPolledAt && now.getTime() - session.lastPolledAt.getTime() < minGapMs) {
    const interval = Math.min(session.intervalSeconds + SLOW_DOWN_STEP, MAX_INTERVAL);
    await ctx.store.loginSessions.recordPoll(hash, now, interval);
    return { status: 'slow_down', interval };
  }
  await ctx.store.loginSessions.recordPoll(hash, now, session.intervalSeconds);

  switch (session.state) {
    case 'pending':
      return { status: 'authorization_pending' };
    case 'denied':
      return { status: 'access_denied' };
    case 'approved': {
      if (!session.email || !(await ctx.store.loginSessions.redeem(hash)))
        return { status: 'invalid_grant' };
      const token = await mintToken(ctx, {
        email: session.email,
        clientDescription: session.clientDescription,
        ...(input.clientIp ? { clientIp: input.clientIp } : {}),
      });
      ctx.metrics.logins.inc({ result: 'token_issued' });
      if (input.replacesToken !== undefined) {
        await revokeReplacedToken(ctx, {
          replacedToken: input.replacesToken,
          by: hashSecret(token.token).slice(0, 8),
          ...(input.clientIp ? { clientIp: input.clientIp } : {}),
        });
      }
      return { status: 'approved', token };
    }
  }
}

/** The live session behind a user code, for the confirmation page. NotFound otherwise. */
export async function findPendingLoginSession(
  ctx: DomainContext,
  userCodeInput: string,
): Promise<LoginSessionRecord> {
  const code = normaliseUserCode(userCodeInput);
  if (!code)
    throw new BadRequest('That is not a valid code. It looks like ABCD-EFGH.', {
      code: 'invalid_user_code',
    });
  const session = await ctx.store.loginSessions.findLiveByUserCode(code, ctx.clock());
  if (!session || session.state !== 'pending') {
    throw new NotFound(
      'No pending sign-in has that code. It may have expired: run `neetodeploy login` again.',
      {
        code: 'unknown_user_code',
      },
    );
  }
  return session;
}

/** The signed-in user approves or denies the session behind the user code. */
export async function approveLoginSession(
  ctx: DomainContext,
  input: { userCode: string; email: string; decision: 'approve' | 'deny'; clientIp?: string },
): Promise<void> {
  const session = await findPendingLoginSession(ctx, input.userCode);
  const now = ctx.clock();
  const decision = input.decision === 'approve' ? 'approved' : 'denied';
  if (!(await ctx.store.loginSessions.decide(session.deviceCodeHash, decision, input.email, now))) {
    throw new Conflict('This sign-in was already decided or has expired.', {
      code: 'already_decided',
    });
  }
  ctx.metrics.logins.inc({ result: decision });
  await recordAudit(ctx, {
    type: decision === 'approved' ? EVENTS.loginSessionApproved : EVENTS.loginSessionDenied,
    at: now,
    actor: input.email,
    ...(input.clientIp ? { clientIp: input.clientIp } : {}),
    details: { client: session.clientDescription, requestedFrom: session.clientIp },
  });
}
