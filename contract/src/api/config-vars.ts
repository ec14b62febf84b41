/**
 * `GET/PATCH /api/v1/apps/:app/config`. The version is opaque to clients and travels as an
 * RFC 9110 entity tag: the answer's `ETag`, and a PATCH's `If-Match` (a stale one gets 409
 * and changes nothing).
 */
import * as z from 'zod';

/** Config var names are environment variable names (the app sees them as such). */
export const CONFIG_VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isConfigVarName(name: string): boolean {
  return CONFIG_VAR_NAME_PATTERN.test(name);
}

/** Both answers (200); also sent with `ETag: "<version>"`. */
export const configVarsSchema = z.object({
  app: z.string(),
  vars: z.record(z.string(), z.string()),
  version: z.string(),
});
export type ConfigVarsBody = z.output<typeof configVarsSchema>;

/** PATCH body. Names and values are checked by the keys-service beyond this shape. */
export const configVarsChangeSchema = z
  .object({
    set: z.record(z.string(), z.string()).default({}),
    unset: z.array(z.string()).default([]),
    /** Restart the app's processes so they see the change (default true). */
    restart: z.boolean().optional(),
  })
  .strict();
/** What a client sends (`set`/`unset` may be left out). */
export type ConfigVarsChangeRequest = z.input<typeof configVarsChangeSchema>;
/** What the keys-service gets after parsing. */
export type ConfigVarsChange = z.output<typeof configVarsChangeSchema>;

/** `v` → `"v"`, the `ETag` / `If-Match` value for a version. */
export function encodeVersionTag(version: string): string {
  return `"${version}"`;
}

/**
 * The version an `If-Match` (or `ETag`) header names: quotes and a weak `W/` prefix removed;
 * undefined when absent or `*` (any version). Inverse of {@link encodeVersionTag}.
 */
export function decodeVersionTag(header: string | undefined): string | undefined {
  const tag = header?.trim();
  if (!tag || tag === '*') return undefined;
  return tag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
