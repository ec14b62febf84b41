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
