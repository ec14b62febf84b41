/**
 * The `oidc` section of the keys-service config: sign-in through an OpenID Connect provider
 * instead of local accounts. Absent means local accounts (the all-in-one's default).
 */
import * as z from 'zod';

const DOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/;

export const oidcConfigSchema = z
  .object({
    /** Issuer URL; `/.well-known/openid-configuration` below it is discovered at first use. */
    issuer: z.url(),
    clientId: z.string().min(1),
    /**
     * File holding the client secret (a mounted Secret item), read at start. Omitted: a public
     * client (PKCE alone, `token_endpoint_auth_method: none`).
     */
    clientSecretFile: z.string().min(1).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))
      .default(['openid', 'email', 'profile'])
      .refine((s) => s.includes('openid'), 'scopes must include openid'),
    /**
     * Where the provider sends the browser back: `<publicUrl>/device/oidc/callback`, registered
     * at the provider. Default: that path on `publicUrl` (or on the address the browser used).
     */
    redirectUrl: z.url().optional(),
    /** Claim with the user's e-mail (the user's identity in policies and certificates). */
    emailClaim: z.string().min(1).default('email'),
    /** Claim with the user's groups (an array of strings, or one string); absent: no groups. */
    groupsClaim: z.string().min(1).default('groups'),
    /** Only e-mails in these domains may sign in (lower-case, exact match); empty: any. */
    allowedEmailDomains: z.array(z.string().toLowerCase().regex(DOMAIN)).default([]),
    /** Refuse users whose `email_verified` claim is not `true`. */
    requireEmailVerified: z.boolean().default(true),
    /** Tolerated difference between this host's clock and the provider's (iat, exp, nbf). */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** Per-request timeout for discovery, token and userinfo calls. */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    /**
     * How old a user's groups may be before a request refreshes them at the provider (the
     * refresh-token grant), so that someone removed from a group loses the access at their
     * next certificate. Needs a refresh token: add `offline_access` to `scopes` where the
     * provider asks for it (Dex, Keycloak). 0: refresh on every request.
     */
    groupsMaxAgeSeconds: z.number().int().min(0).max(86_400).default(60),
    /** Shown on the sign-in button: "Sign in with …". */
    displayName: z.string().min(1).max(64).default('your identity provider'),
  })
  .strict();

export type OidcConfig = z.output<typeof oidcConfigSchema>;
export type OidcConfigInput = z.input<typeof oidcConfigSchema>;
