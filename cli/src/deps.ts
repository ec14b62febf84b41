import type { CliConfig } from './config.js';
import type { Io } from './io.js';
import type { ApiProvider } from './session.js';

/** What every command receives (GitHub CLI's factory): tests pass fake io and a real API. */
export interface Deps {
  readonly io: Io;
  readonly api: ApiProvider;
  readonly config: CliConfig;
}

/** A command resolves with its exit code when it is not 0 (`exec` passes the remote one on). */
export type CommandResult = Promise<number | void>;
