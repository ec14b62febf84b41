/** Where `logs --tail` resumes, and which lines it drops as already printed. */
import assert from 'node:assert/strict';
import type { LogLineBody } from '@neetodeploy/contract';
import { LogCursor } from '../../cli/src/log-cursor.js';

const line = (time: string, text: string, process = 'web.1'): LogLineBody => ({
  time,
  source: 'app',
  process,
  line: text,
});

/** Feeds lines; returns the texts that would be printed. */
function feed(cursor: LogCursor, lines: readonly LogLineBody[]): string[] {
  return lines.filter((l) => cursor.accept(l)).map((l) => l.line);
}

describe('cli: log cursor', function () {
  it('resumes at the last line time and drops the lines of that time already printed', function () {
    const cursor = new LogCursor();
    assert.equal(cursor.since, undefined);
    feed(cursor, [
      line('2026-12-02T10:00:00.100Z', 'a'),
      line('2026-12-02T10:00:00.200Z', 'b'),
      line('2026-12-02T10:00:00.200Z', 'c', 'web.2'),
    ]);
    assert.equal(cursor.since, '2026-12-02T10:00:00.200Z');
    cursor.resume();
    // The API answers `since` with the lines at or after it: b and c again, then new ones.
    const printed = feed(cursor, [
      line('2026-12-02T10:00:00.200Z', 'b'),
      line('2026-12-02T10:00:00.200Z', 'c', 'web.2'),
      line('2026-12-02T10:00:00.200Z', 'd'),
      line('2026-12-02T10:00:00.300Z', 'e'),
    ]);
    assert.deepEqual(printed, ['d', 'e']);
    assert.equal(cursor.since, '2026-12-02T10:00:00.300Z');
  });

  it('drops the repeats of a server that rounds since down to the second', function () {
    const cursor = new LogCursor();
    feed(cursor, [
      line('2026-12-02T10:00:00.900Z', 'old'),
      line('2026-12-02T10:00:01.100Z', 'x'),
      line('2026-12-02T10:00:01.500Z', 'y'),
    ]);
    cursor.resume();
    const printed = feed(cursor, [
      line('2026-12-02T10:00:01.100Z', 'x'),
      line('2026-12-02T10:00:01.500Z', 'y'),
      line('2026-12-02T10:00:01.600Z', 'z'),
    ]);
    assert.deepEqual(printed, ['z']);
  });

  it('keeps a line printed twice in the same millisecond twice, and drops each repeat once', function () {
    const cursor = new LogCursor();
    const same = line('2026-12-02T10:00:00.100Z', 'retry');
    assert.deepEqual(feed(cursor, [same, same]), ['retry', 'retry']);
    cursor.resume();
    assert.deepEqual(feed(cursor, [same, same, same]), ['retry']);
  });
});
