/**
 * The body of every non-2xx JSON answer of the keys-service API. `message` is written for the
 * user; `code` is stable and is what clients branch on.
 */
import * as z from 'zod';

export const apiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** Seconds to wait before polling again; only on a `slow_down` answer to a login poll. */
    interval: z.number().optional(),
  }),
});
export type ApiErrorBody = z.output<typeof apiErrorSchema>;
