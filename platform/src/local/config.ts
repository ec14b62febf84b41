/**
 * Configuration of the local platform: a zod schema with defaults, so the embedded server can
 * nest it in its own config and validate it once at boot.
 */
import * as z from 'zod';

export const localPlatformConfigSchema = z
  .object({
    /** Apps live in `<dataDir>/apps/<name>/`, state (config vars, logs, run files) beside them. */
    dataDir: z.string().min(1),
    /**
     * Run the apps' Procfile processes here. The all-in-one server does; a process that only
     * serves consoles or the API (bastion-only, admin commands) leaves them to the one that does.
     */
    runProcesses: z.boolean().default(false),
    /** Create the `demo` app the first time the data dir is used. */
    createDemoApp: z.boolean().default(true),
    /**
     * Login shell of consoles without a command; default bash where installed, else /bin/sh.
     * Commands always run with `/bin/sh -c`.
     */
    shell: z.string().min(1).optional(),
    /**
     * Environment every app process and console starts from (PATH, HOME, LANG, ...), before the
     * app's config vars. Only what is listed here: the server's own environment never leaks.
     */
    baseEnv: z
      .record(z.string(), z.string())
      .default({ PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' }),
    /**
     * How app processes and consoles are kept from the data dir, other apps and other
     * processes. `auto`: a uid per app when the server runs as root, else a bubblewrap sandbox
     * where it works, else none (with a warning at start). `user` / `sandbox` fail to start
     * when the host cannot do them; `none` runs them as the server's user.
     */
    isolation: z.enum(['auto', 'user', 'sandbox', 'none']).default('auto'),
    limits: z
      .object({
        /** A process log file is rotated past this size; one rotated file is kept per process. */
        maxLogFileBytes: z
          .number()
          .int()
          .min(4096)
          .default(2 * 1024 * 1024),
        /** Longer output lines are cut (and marked) so one line can never fill the log. */
        maxLogLineBytes: z
          .number()
          .int()
          .min(256)
          .default(16 * 1024),
        /** Grace between TERM and KILL when stopping app processes and consoles. */
        stopGraceMs: z.number().int().min(0).default(5000),
        /** Crash restart backoff: first delay, doubled up to the maximum. */
        restartBackoffMs: z.number().int().min(10).default(1000),
        restartBackoffMaxMs: z.number().int().min(10).default(30_000),
        /** A process that stayed up this long resets its backoff. */
        restartResetAfterMs: z.number().int().min(0).default(10_000),
        /** How often followers look for new log lines written by another process. */
        logPollMs: z.number().int().min(10).default(250),
        /** How often the supervisor looks for new, changed or removed apps. */
        appScanMs: z.number().int().min(50).default(5000),
        /** Waiting for the cross-process config lock longer than this is Unavailable. */
        lockTimeoutMs: z.number().int().min(10).default(5000),
      })
      .strict()
      .default({
        maxLogFileBytes: 2 * 1024 * 1024,
        maxLogLineBytes: 16 * 1024,
        stopGraceMs: 5000,
        restartBackoffMs: 1000,
        restartBackoffMaxMs: 30_000,
        restartResetAfterMs: 10_000,
        logPollMs: 250,
        appScanMs: 5000,
        lockTimeoutMs: 5000,
      }),
  })
  .strict();

export type LocalPlatformConfig = z.infer<typeof localPlatformConfigSchema>;
/** What callers may pass: every field with a default is optional. */
export type LocalPlatformConfigInput = z.input<typeof localPlatformConfigSchema>;
