/**
 * Sign-in behind one interface so that an OpenID Connect provider can replace local accounts.
 * The /device pages ask the authenticator what kind of sign-in it needs: a password form
 * (local accounts) or, later, a redirect to an identity provider.
 */
import type { GroupsSource } from '../domain/index.js';

/** Who signed in. Groups feed the access policy. */
export interface AuthenticatedUser {
  readonly email: string;
  readonly groups: readonly string[];
}

export interface PasswordAuthenticator {
  readonly kind: 'password';
  /**
   * Resolves the user for correct credentials, undefined otherwise. Takes about the same time
   * for an unknown email as for a wrong password. Never throws for bad credentials.
   */
  verifyPassword(email: string, password: string): Promise<AuthenticatedUser | undefined>;
  /** The current groups of a signed-in user (undefined once the account is gone). */
  lookup(email: string): Promise<AuthenticatedUser | undefined>;
}

/** What the browser keeps (in a signed cookie) between leaving for the provider and returning. */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly redirectUri: string;
}

/** Sign-in at an identity provider the browser is sent to and comes back from (OIDC). */
export interface RedirectAuthenticator {
  readonly kind: 'redirect';
  /** Names the provider on the sign-in button. */
  readonly displayName: string;
  /** The configured callback URL; undefined: derived from the public URL. */
  readonly redirectUrl?: string;
  /**
   * The provider's URL to send the browser to, and what to keep until it returns. Throws
   * `SignInFailed('provider_unreachable')` when the provider cannot be reached.
   */
  begin(redirectUri: string): Promise<{ authorizationUrl: URL; pending: PendingSignIn }>;
  /**
   * Redeems the callback (code, state) and checks the ID token; records the user's groups
   * from this sign-in. Throws `SignInFailed` with the reason (refused, tampered, expired...).
   */
  complete(callbackUrl: URL, pending: PendingSignIn): Promise<AuthenticatedUser>;
  /** The groups of the user's latest sign-in (undefined if they never signed in). */
  lookup(email: string): Promise<AuthenticatedUser | undefined>;
  /** Keeps signed-in users' groups current between sign-ins (the API reads it per request). */
  readonly groups?: GroupsSource;
}

/** The sign-in kinds the web pages know: a password form, or a redirect to a provider. */
export type Authenticator = PasswordAuthenticator | RedirectAuthenticator;
