/**
 * Login, shaped as the RFC 8628 device authorization grant: `POST /login-sessions` creates a
 * session the user approves in the browser, `POST /login-sessions/token` polls it.
 */
import * as z from 'zod';

/** `POST /api/v1/login-sessions` body. Every field is optional: they only describe the client. */
export const loginSessionRequestSchema = z
  .object({
    client_description: z.string().min(1).max(200).optional(),
    hostname: z.string().min(1).max(253).optional(),
    client_version: z.string().min(1).max(64).optional(),
  })
  .strict();
export type LoginSessionRequest = z.input<typeof loginSessionRequestSchema>;

/** `POST /api/v1/login-sessions` answer (201). */
export const loginSessionSchema = z.object({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string(),
  /** Seconds between polls. */
  interval: z.number().int().positive(),
  /** Seconds until the session expires. */
  expires_in: z.number().int().positive(),
});
export type LoginSession = z.output<typeof loginSessionSchema>;

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** `POST /api/v1/login-sessions/token` body. */
export const loginTokenRequestSchema = z
  .object({
    device_code: z.string().min(1).max(128),
    grant_type: z.literal(DEVICE_CODE_GRANT_TYPE).optional(),
    /**
     * The API token this login replaces (the one the CLI has stored): the keys-service revokes
     * it when it issues the new one, so a re-login leaves no second valid token behind.
     */
    replaces_token: z.string().min(1).max(256).optional(),
  })
  .strict();
export type LoginTokenRequest = z.input<typeof loginTokenRequestSchema>;

/** `POST /api/v1/login-sessions/token` answer once the user approved (200). */
export const loginTokenSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  email: z.string(),
  expires_at: z.iso.datetime(),
  expires_in: z.number().int(),
});
export type LoginToken = z.output<typeof loginTokenSchema>;

/**
 * The `error.code` of a 400 answer to a poll that has no token yet (RFC 8628 §3.5);
 * `slow_down` also carries `error.interval`.
 */
export const LOGIN_POLL_ERROR_CODES = [
  'authorization_pending',
  'slow_down',
  'expired_token',
  'access_denied',
  'invalid_grant',
] as const;
export type LoginPollErrorCode = (typeof LOGIN_POLL_ERROR_CODES)[number];
