import type { Logger } from 'pino';
import type { Platform } from '@neetodeploy/platform';
import type { CertificateAuthorities } from '../ca/index.js';
import type { KeysServiceConfig } from '../config.js';
import type { KeysMetrics } from '../metrics.js';
import type { PolicySource } from '../policy/index.js';
import type { AuditEvent, KeysStore } from '../storage/index.js';

/** What every use-case works with; built once by `createKeysService`. */
export interface DomainContext {
  readonly config: KeysServiceConfig;
  readonly store: KeysStore;
  readonly policy: PolicySource;
  readonly authorities: CertificateAuthorities;
  readonly platform?: Platform;
  readonly logger: Logger;
  readonly metrics: KeysMetrics;
  readonly clock: () => Date;
  /** Keeps callers' groups current between sign-ins; absent: the stored groups are current. */
  readonly groups?: GroupsSource;
}

/** Where a signed-in user's current groups come from (OIDC: the provider, via refresh). */
export interface GroupsSource {
  /**
   * The caller's groups now, given those stored with their account. Throws Unauthenticated
   * when the provider has ended the sign-in, Unavailable when it cannot be asked.
   */
  current(email: string, stored: readonly string[]): Promise<readonly string[]>;
}

/** An authenticated API caller (from a bearer token). */
export interface Caller {
  readonly email: string;
  readonly groups: readonly string[];
  readonly tokenHash: string;
  readonly tokenExpiresAt: Date;
  readonly tokenCreatedAt: Date;
  readonly clientDescription: string;
  /** The user's "not before" (unix seconds) when the token was checked, if any. */
  readonly notBefore?: number;
}

/** The part of the context that admin commands (no server, no CA) can build. */
export type StoreContext = Pick<DomainContext, 'config' | 'store' | 'logger' | 'clock'>;

/** Stores the audit event and logs it (the log line carries the same fields, never secrets). */
export async function recordAudit(
  ctx: Pick<DomainContext, 'store' | 'logger'>,
  event: AuditEvent,
): Promise<void> {
  await ctx.store.audit.append(event);
  ctx.logger.info(
    {
      event: event.type,
      actor: event.actor,
      app: event.app,
      clientIp: event.clientIp,
      ...event.details,
    },
    event.type,
  );
}

export const unixSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);
