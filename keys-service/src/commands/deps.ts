import type { Readable, Writable } from 'node:stream';

export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
}

/** What every command receives instead of reaching for globals (built only in main.ts). */
export interface AdminDeps {
  readonly io: Io;
  /** The clock; tests inject a fixed one. */
  readonly now: () => Date;
  /** Environment as read once by main.ts (commands must not read process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths. */
  readonly cwd: string;
}

/**
 * Runs the server until a signal stops it. Only main.ts builds one (it owns the logger, store,
 * platform, policy, TLS and signals); programs built without it have no working `serve`.
 */
export type ServeKeysService = (options: { readonly config: string }) => Promise<void>;

/** What the `neetodeploy-keys` program's commands receive. */
export interface CommandDeps extends AdminDeps {
  readonly serve?: ServeKeysService;
}
