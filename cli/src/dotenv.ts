/**
 * A `.env` reader for `config:set --file`: `KEY=value` lines, optional `export `, `#` comments,
 * and three forms of value:
 *
 * - bare: the rest of the line, trimmed, up to a ` #` comment (`GREETING=it's fine`);
 * - double-quoted: `\n`, `\r`, `\t`, `\"`, `\\` and `\$` escapes, may span lines;
 * - single-quoted, read as a POSIX shell word: `'...'` is literal (newlines included) and
 *   segments join, so `'it'\''s'` is `it's`. This is what `config --shell` writes, so its output
 *   reads back exactly (multi-line values, quotes, `$`, `#`, unicode, trailing blanks, `\r`).
 */
import { isConfigVarName } from '@neetodeploy/contract';
import { UsageError } from './errors.js';
import { quoteShort } from './format.js';
import { CONFIG_VAR_RULE } from './validate.js';

export function parseDotenv(text: string, fileName: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let pos = 0;
  let lineNo = 1;
  const fail = (what: string, at = lineNo): never => {
    throw new UsageError(`${fileName}:${at}: ${what}`);
  };
  const endOfLine = (from: number): number => {
    const nl = text.indexOf('\n', from);
    return nl === -1 ? text.length : nl;
  };
  /** Skips the rest of the line (and its newline); only blanks and a comment may be left. */
  const finishLine = (from: number, startLine: number): void => {
    const end = endOfLine(from);
    const rest = text.slice(from, end).trim();
    if (rest !== '' && !rest.startsWith('#')) fail('unexpected text after the value', startLine);
    pos = end + 1;
    lineNo++;
  };

  while (pos < text.length) {
    const end = endOfLine(pos);
    const line = text.slice(pos, end).replace(/\r$/, '');
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) {
      pos = end + 1;
      lineNo++;
      continue;
    }
    const startLine = lineNo;
    const lead = line.length - trimmed.length;
    const body = trimmed.startsWith('export ') ? trimmed.slice(7).trimStart() : trimmed;
    const bodyStart = pos + lead + (trimmed.length - body.length);
    const eq = body.indexOf('=');
    if (eq <= 0) fail('expected KEY=VALUE');
    const key = body.slice(0, eq).trim();
    if (!isConfigVarName(key)) {
      fail(`${quoteShort(key)} is not a valid config var name: ${CONFIG_VAR_RULE}`);
    }
    let at = bodyStart + eq + 1;
    const first = text[at];
    if (first === '"') {
      let value = '';
      at++;
      for (;;) {
        if (at >= text.length) fail('unterminated double quote', startLine);
        const c = text[at] ?? '';
        if (c === '"') break;
        if (c === '\\' && at + 1 < text.length) {
          const n = text[at + 1] ?? '';
          const map: Record<string, string> = {
            n: '\n',
            r: '\r',
            t: '\t',
            '"': '"',
            '\\': '\\',
            $: '$',
          };
          value += map[n] ?? `\\${n}`;
          if (n === '\n') lineNo++;
          at += 2;
          continue;
        }
        if (c === '\n') lineNo++;
        value += c;
        at++;
      }
      vars[key] = value;
      finishLine(at + 1, startLine);
    } else if (first === "'") {
      let value = '';
      for (;;) {
        const c = text[at];
        if (c === "'") {
          const close = text.indexOf("'", at + 1);
          if (close === -1) fail('unterminated single quote', startLine);
          const segment = text.slice(at + 1, close);
          lineNo += segment.split('\n').length - 1;
          value += segment;
          at = close + 1;
        } else if (c === '\\' && text[at + 1] === "'") {
          value += "'";
          at += 2;
        } else if (c !== undefined && /[^\s'\\#]/.test(c)) {
          value += c;
          at++;
        } else {
          break;
        }
      }
      vars[key] = value;
      finishLine(at, startLine);
    } else {
      let value = line.slice(line.length - body.length + eq + 1);
      const hash = value.search(/\s#/);
      if (hash !== -1) value = value.slice(0, hash);
      vars[key] = value.trim();
      pos = end + 1;
      lineNo++;
    }
  }
  return vars;
}
