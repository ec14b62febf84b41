/** Procfile parsing (Heroku's format: `type: command` per line, `#` comments). */

export interface ProcfileEntry {
  readonly type: string;
  readonly command: string;
}

export const PROCESS_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/**
 * Lines that are not `type: command` with a valid type are ignored, as Heroku does; a type
 * listed twice keeps its first command.
 */
export function parseProcfile(text: string): ProcfileEntry[] {
  const entries: ProcfileEntry[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([^:\s]+)\s*:\s*(.+)$/.exec(line);
    if (!match) continue;
    const [, type, command] = match;
    if (!type || !command || !PROCESS_TYPE_PATTERN.test(type) || seen.has(type)) continue;
    seen.add(type);
    entries.push({ type, command: command.trim() });
  }
  return entries;
}
