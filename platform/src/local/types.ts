/**
 * The contract of the local platform: what it offers beyond {@link Platform}, what it is built
 * from, the state its modules share, and the console processes it spawns. Every module is a set
 * of functions of {@link LocalPlatformState}; `state.ts` creates that state once and
 * `platform.ts` wires them.
 */
import type { Logger } from 'pino';
import type { Console, Platform, PtyRequest } from '../types.js';
import type { LocalPlatformConfig } from './config.js';
import type { ConfigStore } from './config-store.js';
import type { Isolation } from './isolation.js';
import type { LogBus } from './log-store.js';
import type { LocalPaths } from './paths.js';
import type { Supervisor } from './supervisor.js';

export interface LocalPlatformDeps {
  readonly logger: Logger;
  /** The node binary the demo app's Procfile runs (default: this process's). */
  readonly nodePath?: string;
}

export interface LocalPlatform extends Platform {
  readonly config: LocalPlatformConfig;
  /** The folder of an app (the name is validated, the folder need not exist). */
  appDir(app: string): string;
  /** Start new apps / restart changed ones now rather than at the next periodic scan. */
  rescan(): Promise<void>;
}

/** What the modules of one local platform share; made once by `createPlatformState`. */
export interface LocalPlatformState {
  readonly config: LocalPlatformConfig;
  readonly paths: LocalPaths;
  readonly logger: Logger;
  readonly store: ConfigStore;
  /** How app processes and consoles are kept apart from the host and each other. */
  readonly isolation: Isolation;
  /** Tells log followers in this process that an app's log grew. */
  readonly bus: LogBus;
  /** Runs the apps' processes; only in the one process that has `runProcesses`. */
  readonly supervisor: Supervisor | undefined;
  /** Aborted by `close()`: nothing new starts and log followers end. */
  readonly closing: AbortController;
  /** Open consoles, killed by `close()`. */
  readonly consoles: Set<LocalConsole>;
}

export interface SpawnConsoleRequest {
  /** `[file, ...args]`. */
  readonly argv: readonly [string, ...string[]];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly pty?: PtyRequest;
  /** Who must own the terminal (the uid the console runs as), when not the server's user. */
  readonly terminalOwner?: number;
  /** TERM → KILL grace for `kill()`. */
  readonly stopGraceMs: number;
  readonly logger: Logger;
}

/** A console plus what the local platform needs to manage it. */
export interface LocalConsole extends Console {
  /** Process id of the console's leader, which is also its process group id. */
  readonly pid: number;
}
