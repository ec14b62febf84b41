/** `GET /api/v1/me` (whoami): the token's user, their groups and the token itself. */
import * as z from 'zod';

export const meSchema = z.object({
  email: z.string(),
  /** Groups the access policy puts the user in, sorted. */
  groups: z.array(z.string()),
  token: z.object({
    expires_at: z.iso.datetime(),
    created_at: z.iso.datetime(),
    client_description: z.string(),
  }),
});
export type Me = z.output<typeof meSchema>;
