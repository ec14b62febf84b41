/** Loose JSON access for objects the fake stores as clients sent them. */
export type Rec = Record<string, unknown>;

/** The value if it is a string (numbers and booleans printed), else the fallback. */
export function str(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return fallback;
}
