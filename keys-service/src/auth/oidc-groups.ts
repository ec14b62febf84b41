/**
 * Keeps an OIDC user's groups current between sign-ins, so that someone removed from a group at
 * the provider loses the access at their next certificate rather than at their next sign-in.
 * When the stored groups are older than `groupsMaxAgeSeconds`, the next request redeems the
 * refresh token the sign-in left (the provider re-checks the account) and stores the groups of
 * the new ID token. Fails closed: a provider that refuses the refresh ends the sign-in, and one
 * that cannot be reached makes the request fail rather than trust groups of unknown age.
 */
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { Unauthenticated, Unavailable } from '@neetodeploy/platform';
import type { GroupsSource } from '../domain/index.js';
import { EVENTS } from '../events.js';
import type { UserRecord, UserRepository } from '../storage/index.js';
import type { OidcConfig } from './oidc-config.js';
import type { AuthenticatedUser } from './types.js';

type TokenResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

export interface OidcGroupsDeps {
  readonly config: OidcConfig;
  readonly users: UserRepository;
  readonly logger: Logger;
  readonly clock: () => Date;
  /** The discovered provider, as the authenticator caches it. */
  readonly provider: () => Promise<client.Configuration>;
  /** Verified claims of a token response (the ID token's, completed from userinfo). */
  readonly claimsOf: (
    oidc: client.Configuration,
    tokens: TokenResponse,
    subject: string,
  ) => Promise<Record<string, unknown>>;
  /** The user those claims make, or a SignInFailed (unverified e-mail, domain not allowed). */
  readonly userFromClaims: (claims: Readonly<Record<string, unknown>>) => AuthenticatedUser;
}

/** Past this many users the "confirmed recently" memo starts over (it is only a shortcut). */
const MEMO_LIMIT = 10_000;

export function createOidcGroupsSource(deps: OidcGroupsDeps): GroupsSource {
  const { config, logger } = deps;
  const maxAgeMs = config.groupsMaxAgeSeconds * 1000;
  const ended = (email: string, reason: string, cause?: unknown): Unauthenticated => {
    logger.warn({ event: EVENTS.oidcRefreshRefused, email, reason }, 'OIDC refresh refused');
    return new Unauthenticated(
      `your sign-in at ${config.displayName} has ended (${reason}): run \`neetodeploy login\``,
      { code: 'sign_in_ended', ...(cause === undefined ? {} : { cause }) },
    );
  };
  // When this process last confirmed each user's stored groups (ms); saves the account read.
  const confirmed = new Map<string, number>();
  const inflight = new Map<string, Promise<readonly string[]>>();
  const remember = (email: string, at: number): void => {
    if (confirmed.size >= MEMO_LIMIT) confirmed.clear();
    confirmed.set(email, at);
  };

  const renew = async (user: UserRecord, refreshToken: string): Promise<readonly string[]> => {
    const subject = user.idp!.subject;
    let tokens: TokenResponse;
    let claims: Record<string, unknown>;
    try {
      const oidc = await deps.provider();
      tokens = await client.refreshTokenGrant(oidc, refreshToken);
      claims = await deps.claimsOf(oidc, tokens, subject);
    } catch (err) {
      if (err instanceof client.ResponseBodyError && err.error === 'invalid_grant') {
        throw ended(user.email, 'the provider refused to renew it', err);
      }
      throw new Unavailable(
        `${config.displayName} could not be asked for your current groups: try again in a minute; if it keeps failing, tell your administrator`,
        { code: 'provider_unreachable', cause: err },
      );
    }
    if (claims.sub !== subject)
      throw ended(user.email, 'the provider answered for another account');
    let fresh: AuthenticatedUser;
    try {
      fresh = deps.userFromClaims(claims);
    } catch (err) {
      throw ended(user.email, 'the provider no longer allows this account here', err);
    }
    if (fresh.email !== user.email) throw ended(user.email, 'the account changed its e-mail');
    const now = deps.clock();
    await deps.users.upsert({
      ...user,
      groups: fresh.groups,
      idp: {
        subject,
        refreshToken: tokens.refresh_token ?? refreshToken,
        groupsCheckedAt: now,
      },
    });
    const removed = user.groups.filter((g) => !fresh.groups.includes(g));
    const added = fresh.groups.filter((g) => !user.groups.includes(g));
    logger.info(
      { event: EVENTS.oidcGroupsRefreshed, email: user.email, added, removed },
      'groups refreshed at the provider',
    );
    remember(user.email, now.getTime());
    return fresh.groups;
  };

  const check = async (email: string, stored: readonly string[]): Promise<readonly string[]> => {
    const user = await deps.users.get(email);
    const now = deps.clock().getTime();
    // Accounts that never signed in at the provider (admin-made) keep their stored groups.
    if (!user?.idp) {
      remember(email, now);
      return stored;
    }
    const refreshToken = user.idp.refreshToken;
    if (refreshToken === undefined || now - user.idp.groupsCheckedAt.getTime() < maxAgeMs) {
      // Without a refresh token the groups are those of the latest sign-in (docs/oidc.md).
      remember(email, refreshToken === undefined ? now : user.idp.groupsCheckedAt.getTime());
      return user.groups;
    }
    return renew(user, refreshToken);
  };

  return {
    current(email, stored) {
      const at = confirmed.get(email);
      if (at !== undefined && deps.clock().getTime() - at < maxAgeMs)
        return Promise.resolve(stored);
      let pending = inflight.get(email);
      if (!pending) {
        pending = check(email, stored).finally(() => inflight.delete(email));
        inflight.set(email, pending);
      }
      return pending;
    },
  };
}
