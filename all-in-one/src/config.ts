/**
 * The all-in-one's configuration: a zod schema with defaults, validated once in `main.ts` (the
 * only reader of argv and the environment). Everything else receives an {@link AllInOneConfig}.
 */
import path from 'node:path';
import * as z from 'zod';

const port = z.number().int().min(0).max(65535);

export const allInOneConfigSchema = z
  .object({
    /** Every part keeps its state here (see `layout.ts`); made 0700 on first start. */
    dataDir: z.string().min(1).default('.neetodeploy-data'),
    /** keys-service HTTPS port; 0 picks a free one. */
    apiPort: port.default(8443),
    /** Bastion SSH port; 0 picks a free one. */
    sshPort: port.default(2222),
    /** The first local account, made when the data dir has none. */
    admin: z
      .object({
        email: z
          .string()
          .regex(/^[^\s@:]+@[^\s@:]+$/, 'an email address without `:`')
          .default('admin@localhost'),
        /** Absent: a random password is made and printed once. */
        password: z.string().min(8, 'the admin password needs at least 8 characters').optional(),
      })
      .strict()
      .default({ email: 'admin@localhost' }),
    /** Server logs (JSON lines) go to `<dataDir>/neetodeploy.log` unless `stderr`. */
    logTo: z.enum(['file', 'stderr']).default('file'),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    /** Open sessions get this long to end when the bastion stops (Ctrl-C). */
    drainTimeoutMs: z.number().int().min(0).max(60_000).default(2000),
    /** How often the bastion re-reads trust (CA keys, KRL, revoked users) from the API. */
    trustPollMs: z.number().int().min(100).max(600_000).default(5000),
  })
  .strict();

export type AllInOneConfig = z.output<typeof allInOneConfigSchema>;
export type AllInOneConfigInput = z.input<typeof allInOneConfigSchema>;

/** A configuration that does not validate; the message names each bad field. */
export class AllInOneConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AllInOneConfigError';
  }
}

/** Validates the input; a relative data dir resolves against `cwd`. */
export function parseAllInOneConfig(input: unknown, cwd: string): AllInOneConfig {
  const result = allInOneConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const where = issue.path.map(String).join('.');
      return where ? `${where}: ${issue.message}` : issue.message;
    });
    throw new AllInOneConfigError(problems.join('; '));
  }
  return { ...result.data, dataDir: path.resolve(cwd, result.data.dataDir) };
}
