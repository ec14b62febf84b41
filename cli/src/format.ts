/** Small output helpers shared by commands. */

/** Left-aligned columns separated by two spaces (the last column is not padded). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

/** POSIX shell quoting: safe characters bare, anything else in single quotes. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** "a", "a and b", "a, b and c" */
export function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}

/**
 * A value quoted for a message, cut to `max` characters: a 40 KB value in an error would bury
 * the error.
 */
export function quoteShort(value: string, max = 40): string {
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max))}... (${value.length} characters)`;
}

/** Cuts every run of more than `max` non-blank characters in a message (values a server echoed). */
export function shortenLongRuns(message: string, max = 120): string {
  return message.replace(
    new RegExp(`\\S{${max + 1},}`, 'g'),
    (run) => `${run.slice(0, max)}... (${run.length} characters)`,
  );
}
