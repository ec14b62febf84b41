/**
 * Every field a log line carries is bounded: client-chosen strings (user names, request names,
 * key ids, error messages that quote them) must never turn one packet into a huge log line.
 */

/** Longest string kept in a log field; longer ones are cut and say how much was cut. */
export const MAX_LOG_FIELD_CHARS = 512;
/** How deep nested objects are walked; deeper values are replaced by a marker. */
const MAX_DEPTH = 4;
/** Arrays longer than this are cut too. */
const MAX_ARRAY_ITEMS = 32;

function bound(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    if (value.length <= MAX_LOG_FIELD_CHARS) return value;
    return `${value.slice(0, MAX_LOG_FIELD_CHARS)}…[${value.length - MAX_LOG_FIELD_CHARS} more chars]`;
  }
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // A system error's code (ECONNRESET, ETIMEDOUT) is often all an operator needs.
    const code = (value as NodeJS.ErrnoException).code;
    const fields = { type: value.name, message: value.message };
    return bound(typeof code === 'string' ? { ...fields, code } : fields, depth);
  }
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ARRAY_ITEMS).map((v) => bound(v, depth + 1));
    if (value.length > MAX_ARRAY_ITEMS) items.push(`…[${value.length - MAX_ARRAY_ITEMS} more]`);
    return items;
  }
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // Date, URL...: pino's to decide
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[bound(k, depth) as string] = bound(v, depth + 1);
  return out;
}

/**
 * A copy of a log object with every string cut to {@link MAX_LOG_FIELD_CHARS}; used as the
 * bastion logger's `formatters.log`, so it applies to every line whatever its caller.
 */
export function boundLogFields(fields: object): Record<string, unknown> {
  return bound(fields, 0) as Record<string, unknown>;
}
