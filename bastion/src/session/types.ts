import type { Platform } from '@neetodeploy/platform';
import type { Logger } from 'pino';
import type { Audit } from '../audit.js';
import type { BastionConfig } from '../config.js';
import type { UserSessions } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';

/** A console session as the drain sees it. */
export interface ActiveSession {
  readonly id: string;
  readonly connectionId: string;
  /** The outer connection's id for a session behind ProxyJump. */
  readonly parentId?: string;
  /** Writes a line to the client's stderr (the terminal when a pty was allocated). */
  notify(message: string): void;
  /** Ends the session gracefully: the console is ended; its exit status still reaches the client. */
  terminate(): void;
  /** Ends the session now: the console is killed, the channel closed. */
  close(): void;
  /** Resolves when the session has fully ended. */
  readonly ended: Promise<void>;
}

export interface SessionDeps {
  readonly platform: Platform;
  readonly config: BastionConfig;
  readonly logger: Logger;
  readonly metrics: BastionMetrics;
  readonly audit: Audit;
  readonly userSessions: UserSessions;
  readonly sessions: Set<ActiveSession>;
  readonly now: () => Date;
  /** Called on any channel traffic (idle timeout). */
  readonly touch: () => void;
}
