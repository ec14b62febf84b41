/**
 * A real OpenID provider for tests: `oidc-provider` (a certified implementation) on 127.0.0.1
 * port 0 over HTTP, with accounts whose claims a test sets, its development login and consent
 * pages (which headless Chromium fills in), and a signing key the test also holds, so that a
 * test can make the provider "misbehave" by re-signing a changed ID token with the same key.
 *
 * The server listens before the provider exists: the relying party's redirect URI depends on
 * the keys-service's port, which is known only after the keys-service (configured with this
 * issuer) has started. So: `startOidcProvider()`, start the keys-service, then `register()`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import type { BrowserContext } from 'playwright-core';

/** The claims an account has at the provider (its login name is its `sub`). */
export interface TestAccount {
  readonly email: string;
  readonly email_verified: boolean;
  readonly groups: readonly string[];
}

export interface TestClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
}

export interface TestOidcProvider {
  readonly issuer: string;
  /** Accounts by login name; edit between sign-ins to change what the provider says. */
  readonly accounts: Map<string, TestAccount>;
  /** Builds the provider with these clients (call once, after the RP's port is known). */
  register(clients: readonly TestClient[]): Promise<void>;
  /** Signs `payload` as an ID token with the provider's own key. */
  signIdToken(payload: JWTPayload): Promise<string>;
  /** Signs with a key the provider does not publish (a forged token). */
  signWithForeignKey(payload: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

// oidc-provider ships no type declarations: the small part used here, typed.
interface OidcAccount {
  accountId: string;
  claims(): Promise<Record<string, unknown>>;
}
interface ProviderInstance {
  callback(): http.RequestListener;
}
type ProviderConstructor = new (issuer: string, configuration: object) => ProviderInstance;

const KID = 'test-signing-key';

export async function startOidcProvider(): Promise<TestOidcProvider> {
  let handler: http.RequestListener | undefined;
  const server = http.createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end('provider not configured');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const accounts = new Map<string, TestAccount>();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };

  const sign = (key: CryptoKey, payload: JWTPayload): Promise<string> =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' }).sign(key);

  return {
    issuer,
    accounts,
    async register(clients) {
      // A computed specifier: without declarations, a literal import would be an implicit any.
      const moduleName: string = 'oidc-provider';
      const { default: Provider } = (await import(moduleName)) as {
        default: ProviderConstructor;
      };
      const provider = new Provider(issuer, {
        clients: clients.map((c) => ({
          client_id: c.clientId,
          client_secret: c.clientSecret,
          redirect_uris: [...c.redirectUris],
          response_types: ['code'],
          grant_types: ['authorization_code', 'refresh_token'],
          token_endpoint_auth_method: 'client_secret_basic',
        })),
        findAccount: (_ctx: unknown, sub: string): OidcAccount | undefined => {
          const account = accounts.get(sub);
          if (!account) return undefined;
          return {
            accountId: sub,
            claims: () => Promise.resolve({ sub, ...account, groups: [...account.groups] }),
          };
        },
        claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
        // Put the scopes' claims in the ID token, as Dex, Keycloak and Google do.
        conformIdTokenClaims: false,
        pkce: { required: () => true },
        // A refresh token with every code, as Dex and Keycloak give with `offline_access`: the
        // keys-service re-reads groups with it. A refresh for a deleted account is refused.
        issueRefreshToken: () => true,
        jwks: { keys: [jwk] },
        cookies: { keys: ['test cookie key, not a secret'] },
        features: { devInteractions: { enabled: true } },
        // Explicit lifetimes (seconds), which also keeps the provider's notices out of the output.
        ttl: {
          Interaction: 600,
          Session: 3600,
          Grant: 3600,
          AccessToken: 600,
          IdToken: 600,
          RefreshToken: 3600,
        },
      });
      handler = provider.callback();
    },
    signIdToken: (payload) => sign(privateKey, payload),
    signWithForeignKey: (payload) => sign(foreign.privateKey, payload),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Signs in at the provider in `context`, from `authorizationUrl` until the provider redirects
 * the browser to `redirectUri`; returns that callback URL. Point `redirectUri` at an address
 * nothing serves, so that only the test redeems the code (redirects cannot be intercepted).
 */
export async function authorizeAtProvider(
  context: BrowserContext,
  authorizationUrl: URL | string,
  redirectUri: string,
  account: string,
): Promise<URL> {
  const page = await context.newPage();
  let done: URL | undefined;
  const callback = page
    .waitForRequest((r) => r.url().startsWith(redirectUri), { timeout: 30_000 })
    .then((r) => (done = new URL(r.url())));
  // A provider that redirects at once ends the navigation at the unserved callback: an error.
  await page.goto(String(authorizationUrl)).catch(() => undefined);
  // The provider shows its login form, its consent form, or (with its session and a grant
  // from an earlier sign-in) redirects at once: act on whichever comes, until the callback.
  for (let step = 0; step < 4 && !done; step++) {
    const next = await Promise.race([
      callback.then(() => 'callback' as const),
      page.waitForSelector('input[name=login]').then(() => 'login' as const),
      page
        .waitForSelector('input[name=prompt][value=consent]', { state: 'attached' })
        .then(() => 'consent' as const),
    ]).catch(() => 'callback' as const);
    if (next === 'login') await fillProviderLogin(page, account);
    else if (next === 'consent') await page.click('button[type=submit]');
    else break;
  }
  const url = await callback;
  await page.close();
  return url;
}

/** Fills the provider's development login page, then its consent page (or cancels). */
export async function fillProviderLogin(
  page: import('playwright-core').Page,
  login: string,
  options: { cancel?: boolean } = {},
): Promise<void> {
  await page
    .waitForSelector('input[name=login]', { timeout: 15_000 })
    .catch(async (err: unknown) => {
      const text = (await page.textContent('body').catch(() => '')) ?? '';
      throw new Error(`no provider login form at ${page.url()}: ${text.slice(0, 300)}`, {
        cause: err,
      });
    });
  if (options.cancel) {
    await page.click('text=[ Cancel ]');
    return;
  }
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password');
  const providerOrigin = new URL(page.url()).origin;
  await page.click('button[type=submit]');
  // A grant given before (same account, client and scopes) skips the consent page.
  const next = await Promise.race([
    page
      .waitForSelector('input[name=prompt][value=consent]', { state: 'attached' })
      .then(() => 'consent' as const),
    page.waitForURL((url) => url.origin !== providerOrigin).then(() => 'left' as const),
  ]);
  if (next === 'consent') await page.click('button[type=submit]');
}

/** The claims of an ID token, unverified (tests build a changed copy from them). */
export const claimsOf = (idToken: string): JWTPayload => decodeJwt(idToken);
