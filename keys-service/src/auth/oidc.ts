/**
 * Sign-in through an OpenID Connect provider: the authorization code flow with PKCE, `state`
 * and `nonce`, done by openid-client (discovery, ID token signature, iss, aud, exp/iat with a
 * bounded clock tolerance, nonce). This file only decides which checked claims make a user.
 *
 * Groups: each successful sign-in replaces the stored groups of the user with the token's and
 * keeps the refresh token; once they are older than `groupsMaxAgeSeconds`, the next request
 * re-reads them at the provider (./oidc-groups.ts), so leaving a group takes effect at the next
 * certificate. See docs/oidc.md.
 */
import fs from 'node:fs';
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { AppError } from '@neetodeploy/platform';
import { EVENTS } from '../events.js';
import type { UserRepository } from '../storage/index.js';
import type { OidcConfig } from './oidc-config.js';
import { createOidcGroupsSource } from './oidc-groups.js';
import type { AuthenticatedUser, PendingSignIn, RedirectAuthenticator } from './types.js';

/** Why a sign-in at the provider did not produce a user; each has a page that says what to do. */
export type SignInFailure =
  | 'provider_unreachable'
  | 'access_denied'
  | 'provider_error'
  | 'email_not_verified'
  | 'email_domain_not_allowed'
  | 'missing_email'
  | 'state_mismatch'
  | 'code_rejected'
  | 'token_expired'
  | 'token_rejected'
  | 'sign_in_expired';

const USER_MESSAGES: Record<SignInFailure, string> = {
  provider_unreachable:
    'The sign-in provider could not be reached. Try again in a minute; if it keeps failing, tell your administrator.',
  access_denied:
    'Sign-in was cancelled at the provider (consent was not given). Start again to retry.',
  provider_error:
    'The sign-in provider refused the request. Start again; if it keeps failing, tell your administrator.',
  email_not_verified:
    'Your e-mail address is not verified at the sign-in provider. Verify it there, then start again.',
  email_domain_not_allowed:
    'Your e-mail address is not in a domain allowed to sign in here. Sign in with your company account.',
  missing_email:
    'The sign-in provider did not say who you are (no e-mail address). Tell your administrator.',
  state_mismatch:
    'This sign-in response does not belong to this browser or was altered. Start again from this page.',
  code_rejected:
    'The sign-in provider did not accept this sign-in (it may have been used already). Start again.',
  token_expired:
    'The sign-in could not be checked: its time is off (expired, or the clocks of this service and the provider differ). Start again; if it keeps failing, tell your administrator.',
  token_rejected:
    "The sign-in provider's answer failed its checks. Start again; if it keeps failing, tell your administrator.",
  sign_in_expired:
    'This sign-in took too long or was started in another browser. Start again from this page.',
};

export class SignInFailed extends AppError {
  declare readonly code: SignInFailure;
  constructor(code: SignInFailure, options?: { cause?: unknown; message?: string }) {
    super(code, USER_MESSAGES[code], options);
  }
}

export interface OidcAuthenticatorDeps {
  readonly users: UserRepository;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** Replaces fetch for every call to the provider (tests make the provider misbehave). */
  readonly fetch?: client.CustomFetch;
}

const EMAIL = /^[^\s@:]+@[^\s@:]+$/;
// Any printable group name up to 256 characters (Keycloak paths have '/', Entra ids are GUIDs).
const isGroupName = (g: string): boolean =>
  g.length >= 1 && g.length <= 256 && ![...g].some((c) => c < ' ' || c === '\x7f');
const MAX_GROUPS = 256;

/** Network failures, timeouts and bad discovery documents all mean "cannot reach the provider". */
function isUnreachable(err: unknown): boolean {
  if (err instanceof TypeError) return true; // fetch() failed: refused, DNS, TLS
  const code = (err as { code?: unknown }).code;
  return (
    code === 'OAUTH_TIMEOUT' ||
    code === 'OAUTH_ABORT' ||
    code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' ||
    code === 'OAUTH_RESPONSE_IS_NOT_JSON'
  );
}

/** Maps what openid-client throws at the callback to a failure the page can explain. */
export function classifyCallbackError(err: unknown): SignInFailed {
  if (err instanceof SignInFailed) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new SignInFailed(err.error === 'access_denied' ? 'access_denied' : 'provider_error', {
      cause: err,
      message: `authorization response error: ${err.error}`,
    });
  }
  if (err instanceof client.ResponseBodyError) {
    // invalid_grant: the code was used already, expired, or issued to another client.
    return new SignInFailed(err.error === 'invalid_grant' ? 'code_rejected' : 'provider_error', {
      cause: err,
      message: `token endpoint error: ${err.error}`,
    });
  }
  const code = (err as { code?: unknown }).code;
  const cause = (err as { cause?: unknown }).cause;
  const causeMessage = cause instanceof Error ? cause.message : '';
  if (code === 'OAUTH_INVALID_RESPONSE' && causeMessage.includes('"state"')) {
    return new SignInFailed('state_mismatch', { cause: err, message: causeMessage });
  }
  if (code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') {
    return new SignInFailed('token_expired', { cause: err, message: causeMessage });
  }
  if (isUnreachable(err)) return new SignInFailed('provider_unreachable', { cause: err });
  const message = err instanceof Error ? `${err.message}: ${causeMessage}` : String(err);
  return new SignInFailed('token_rejected', { cause: err, message });
}

function readSecret(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    const secret = fs.readFileSync(file, 'utf8').trim();
    if (!secret) throw new Error('the file is empty');
    return secret;
  } catch (err) {
    throw new AppError('invalid_config', 'The OIDC client secret cannot be read.', {
      cause: err,
      message: `oidc.clientSecretFile: cannot read ${file}: ${(err as Error).message}`,
    });
  }
}

/** Groups as the provider sends them: an array of strings, or one string. Odd entries dropped. */
export function groupsFromClaim(value: unknown): string[] {
  const raw = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  const groups = raw.filter((g): g is string => typeof g === 'string' && isGroupName(g));
  return [...new Set(groups)].slice(0, MAX_GROUPS);
}

/** The user from verified claims, or the reason they may not sign in. */
export function userFromClaims(
  claims: Readonly<Record<string, unknown>>,
  config: Pick<
    OidcConfig,
    'emailClaim' | 'groupsClaim' | 'requireEmailVerified' | 'allowedEmailDomains'
  >,
): AuthenticatedUser {
  const rawEmail = claims[config.emailClaim];
  if (typeof rawEmail !== 'string' || !EMAIL.test(rawEmail.trim())) {
    throw new SignInFailed('missing_email', {
      message: `claim ${config.emailClaim} is missing or not an e-mail address`,
    });
  }
  const email = rawEmail.trim().toLowerCase();
  if (config.requireEmailVerified && claims.email_verified !== true) {
    throw new SignInFailed('email_not_verified', {
      message: `${email}: email_verified is not true`,
    });
  }
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (config.allowedEmailDomains.length > 0 && !config.allowedEmailDomains.includes(domain)) {
    throw new SignInFailed('email_domain_not_allowed', {
      message: `${email}: domain ${domain} is not in oidc.allowedEmailDomains`,
    });
  }
  return { email, groups: groupsFromClaim(claims[config.groupsClaim]) };
}

const isLoopback = (url: URL): boolean =>
  url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';

export function createOidcAuthenticator(
  config: OidcConfig,
  deps: OidcAuthenticatorDeps,
): RedirectAuthenticator {
  const logger = deps.logger.child({ module: 'oidc' });
  const clock = deps.clock ?? (() => new Date());
  const clientSecret = readSecret(config.clientSecretFile);
  const issuer = new URL(config.issuer);
  let discovered: Promise<client.Configuration> | undefined;

  /** Discovery at first use, cached; a failure is not cached so the next sign-in retries. */
  const configuration = (): Promise<client.Configuration> => {
    discovered ??= (async () => {
      const metadata: Partial<client.ClientMetadata> = {
        ...(clientSecret
          ? { client_secret: clientSecret }
          : { token_endpoint_auth_method: 'none' }),
        [client.clockTolerance]: config.clockToleranceSeconds,
      };
      const options: client.DiscoveryRequestOptions = {
        timeout: Math.ceil(config.timeoutMs / 1000),
        // Plain HTTP only for a provider on this machine (development, tests).
        ...(issuer.protocol === 'http:' && isLoopback(issuer)
          ? { execute: [client.allowInsecureRequests] }
          : {}),
        ...(deps.fetch ? { [client.customFetch]: deps.fetch } : {}),
      };
      const auth = clientSecret ? client.ClientSecretBasic(clientSecret) : client.None();
      const found = await client.discovery(issuer, config.clientId, metadata, auth, options);
      if (deps.fetch) found[client.customFetch] = deps.fetch;
      // Also verify the ID token's signature against the provider's JWKS: openid-client
      // otherwise trusts a token-endpoint response on the strength of TLS alone.
      client.enableNonRepudiationChecks(found);
      return found;
    })().catch((err: unknown) => {
      discovered = undefined;
      logger.warn(
        { event: EVENTS.oidcDiscoveryFailed, issuer: config.issuer, err },
        'OIDC discovery failed',
      );
      throw new SignInFailed('provider_unreachable', { cause: err });
    });
    return discovered;
  };

  /**
   * ID token claims, completed from userinfo when the e-mail or groups claim is not in it. A
   * refresh may answer without an ID token: then userinfo for the known `subject` is all.
   */
  const claimsOf = async (
    oidc: client.Configuration,
    tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
    subject?: string,
  ): Promise<Record<string, unknown>> => {
    const idClaims = tokens.claims();
    if (!idClaims && subject === undefined) {
      throw new SignInFailed('token_rejected', { message: 'no ID token' });
    }
    const complete =
      idClaims !== undefined && config.emailClaim in idClaims && config.groupsClaim in idClaims;
    if (complete || !oidc.serverMetadata().userinfo_endpoint) {
      if (!idClaims) throw new SignInFailed('token_rejected', { message: 'no ID token' });
      return { ...idClaims };
    }
    const sub = idClaims?.sub ?? subject!;
    const info = await client.fetchUserInfo(oidc, tokens.access_token, sub);
    return { ...info, ...idClaims };
  };

  return {
    kind: 'redirect',
    displayName: config.displayName,
    ...(config.redirectUrl ? { redirectUrl: config.redirectUrl } : {}),

    async begin(redirectUri) {
      const oidc = await configuration();
      const pending: PendingSignIn = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        redirectUri,
      };
      const authorizationUrl = client.buildAuthorizationUrl(oidc, {
        redirect_uri: redirectUri,
        scope: config.scopes.join(' '),
        response_type: 'code',
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { authorizationUrl, pending };
    },

    // The redirect_uri sent to the token endpoint is callbackUrl without its query: the caller
    // builds it from pending.redirectUri, the one sent at begin().
    async complete(callbackUrl, pending) {
      const oidc = await configuration();
      let user: AuthenticatedUser;
      let subject: string;
      let refreshToken: string | undefined;
      try {
        const tokens = await client.authorizationCodeGrant(oidc, callbackUrl, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        });
        const claims = await claimsOf(oidc, tokens);
        user = userFromClaims(claims, config);
        subject = String(claims.sub);
        refreshToken = tokens.refresh_token;
      } catch (err) {
        throw classifyCallbackError(err);
      }
      if (refreshToken === undefined) {
        logger.warn(
          { event: EVENTS.oidcNoRefreshToken, email: user.email },
          'the provider issued no refresh token: groups stay those of this sign-in until the next (add offline_access to oidc.scopes)',
        );
      }
      // The latest sign-in's groups replace the stored ones (the policy reads them at issue),
      // and its refresh token lets later requests re-read them (./oidc-groups.ts).
      const existing = await deps.users.get(user.email);
      const now = clock();
      await deps.users.upsert({
        email: user.email,
        groups: user.groups,
        ...(existing?.passwordHash ? { passwordHash: existing.passwordHash } : {}),
        createdAt: existing?.createdAt ?? now,
        idp: {
          subject,
          ...(refreshToken === undefined ? {} : { refreshToken }),
          groupsCheckedAt: now,
        },
      });
      return user;
    },

    groups: createOidcGroupsSource({
      config,
      users: deps.users,
      logger,
      clock,
      provider: configuration,
      claimsOf,
      userFromClaims: (claims) => userFromClaims(claims, config),
    }),

    async lookup(email) {
      const user = await deps.users.get(email);
      return user ? { email: user.email, groups: user.groups } : undefined;
    },
  };
}
