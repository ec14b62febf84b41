/** `GET /api/v1/apps`: the apps the caller has any permission on, with those permissions. */
import * as z from 'zod';

/** What the access policy grants on an app, in this order wherever they are listed. */
export const PERMISSIONS = [
  'exec',
  'logs',
  'config:read',
  'config:write',
  'port-forward',
  /** List and replay the app's recorded sessions (`neetodeploy sessions`, the web player). */
  'sessions:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];
export const permissionSchema = z.enum(PERMISSIONS);

export const appEntrySchema = z.object({
  name: z.string(),
  permissions: z.array(permissionSchema),
  /** Present when the keys-service has a platform to ask. */
  process_types: z.array(z.string()).optional(),
});
export type AppEntry = z.output<typeof appEntrySchema>;

export const appsSchema = z.object({ apps: z.array(appEntrySchema) });
export type Apps = z.output<typeof appsSchema>;
