/** `GET /api/v1/apps/:app/processes`: an app's process types and running instances (`ps`). */
import * as z from 'zod';

export const PROCESS_STATES = ['starting', 'running', 'crashed', 'stopped'] as const;

export const processEntrySchema = z.object({
  /** Heroku-style instance name (`web.1`); on Kubernetes the pod name is in `pod`. */
  name: z.string(),
  type: z.string(),
  state: z.enum(PROCESS_STATES),
  pod: z.string().optional(),
  /** ISO 8601; absent when the platform does not know. */
  started_at: z.iso.datetime().optional(),
});
export type ProcessEntry = z.output<typeof processEntrySchema>;

export const processesSchema = z.object({
  app: z.string(),
  /** Every process type of the app, including those with no instance running. */
  process_types: z.array(z.string()),
  processes: z.array(processEntrySchema),
});
export type Processes = z.output<typeof processesSchema>;
