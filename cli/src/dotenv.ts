/**
 * A `.env` reader for `config:set --file`: `KEY=value` lines, optional `export `, `#` comments,
 * single quotes (literal) and double quotes (with \n, \t, \", \\ escapes, may span lines).
 */
import { isConfigVarName } from '@neetodeploy/contract';
import { UsageError } from './errors.js';

export function parseDotenv(text: string, fileName: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] ?? '';
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq <= 0) throw new UsageError(`${fileName}:${lineNo}: expected KEY=VALUE`);
    const key = body.slice(0, eq).trim();
    if (!isConfigVarName(key))
      throw new UsageError(
        `${fileName}:${lineNo}: ${JSON.stringify(key)} is not a valid variable name`,
      );
    let rest = body.slice(eq + 1);
    let value: string;
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end === -1) throw new UsageError(`${fileName}:${lineNo}: unterminated single quote`);
      value = rest.slice(1, end);
    } else if (rest.startsWith('"')) {
      // Double-quoted values may continue on the following lines.
      let acc = rest.slice(1);
      let closing = findClosingQuote(acc);
      while (closing === -1 && i + 1 < lines.length) {
        i++;
        acc += `\n${lines[i] ?? ''}`;
        closing = findClosingQuote(acc);
      }
      if (closing === -1) throw new UsageError(`${fileName}:${lineNo}: unterminated double quote`);
      value = unescapeDouble(acc.slice(0, closing));
    } else {
      const hash = rest.search(/\s#/);
      if (hash !== -1) rest = rest.slice(0, hash);
      value = rest.trim();
    }
    vars[key] = value;
  }
  return vars;
}

function findClosingQuote(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([nrt"\\$])/g, (_m, c: string) =>
    c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c,
  );
}
