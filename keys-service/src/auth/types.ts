/**
 * Sign-in behind one interface so that an OpenID Connect provider can replace local accounts.
 * The /device pages ask the authenticator what kind of sign-in it needs: a password form
 * (local accounts) or, later, a redirect to an identity provider.
 */

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

/** The sign-in kinds the web pages know. An OIDC variant would add `kind: 'redirect'`. */
export type Authenticator = PasswordAuthenticator;
