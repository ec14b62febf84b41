import type { Console, Platform, PtyRequest } from '@neetodeploy/platform';
import type { Logger } from 'pino';
import type { ServerChannel } from 'ssh2';
import type { Audit } from '../audit.js';
import type { BastionConfig } from '../config.js';
import type { ConnectionScope } from '../connection/index.js';
import type { UserSessions } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { Recordings } from '../recording/index.js';
import type { SessionRecorder } from '@neetodeploy/recording';
import type { SessionTarget } from '../types.js';

export type { ActiveSession } from '../connection/index.js';

/** What every session channel shares. */
export interface SessionDeps {
  readonly platform: Platform;
  readonly config: BastionConfig;
  readonly metrics: BastionMetrics;
  readonly audit: Audit;
  readonly userSessions: UserSessions;
  readonly now: () => Date;
  /** Absent: sessions are not recorded. */
  readonly recordings?: Recordings;
}

/** What the channel asked for by the time it asked for `shell`, `exec` or a subsystem. */
export interface SessionRequest {
  /** Undefined for a shell. */
  readonly command: string | undefined;
  /** What the audit log calls it: the command, or `subsystem:NAME`. */
  readonly label: string | undefined;
  readonly pty: PtyRequest | undefined;
  /** The last `window-change` before the start, which a pty opens with. */
  readonly size: { readonly cols: number; readonly rows: number } | undefined;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * One running session, shared by its three phases: open (`open.ts`), bind streams (`bind.ts`),
 * finish and audit (`finish.ts`).
 */
export interface SessionRun {
  readonly id: string;
  readonly scope: ConnectionScope;
  readonly channel: ServerChannel;
  readonly request: SessionRequest;
  readonly target: SessionTarget;
  /** `demo`, `demo:web` or `demo:pod=web-1`, as the audit log names the target. */
  readonly targetName: string;
  readonly user: string;
  readonly log: Logger;
  readonly startedAt: Date;
  /** Aborts a console still opening (the channel closed, the connection is being ended). */
  readonly abort: AbortController;
  /** Resolves when the client closed the channel. */
  readonly closed: Promise<void>;
  readonly channelClosed: boolean;
  /** Set once the platform opened the console. */
  console: Console | undefined;
  /** Set once the recording started (`record.ts`); undefined when not recorded. */
  recorder: SessionRecorder | undefined;
  bytesIn: number;
  bytesOut: number;
  /** Writes a line to the client's stderr, if it still reads. */
  readonly say: (message: string) => void;
  /** Called once, by `finish.ts`: unregisters the session and resolves its `ended`. */
  readonly done: () => void;
}
