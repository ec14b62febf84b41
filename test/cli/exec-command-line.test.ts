/** The words after `exec --`: one is a command line, more are quoted for a POSIX shell. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { remoteCommand, shellQuote } from '../../cli/src/exec/command-line.js';

describe('cli: exec command line', function () {
  it('one argument is sent as it is (a shell command line, as with ssh)', function () {
    assert.equal(remoteCommand(['echo x; exit 3']), 'echo x; exit 3');
    assert.equal(remoteCommand([]), undefined);
  });

  it('two or more survive a real sh unchanged, whatever bytes they hold', function () {
    const words = [
      'a b',
      "c'd",
      'e"f',
      'x;id',
      '$HOME',
      '*',
      '',
      'g\\h',
      "'",
      "''",
      '\n',
      '-n',
      '`id`',
    ];
    const out = execFileSync('/bin/sh', ['-c', remoteCommand(['printf', '<%s>', ...words]) ?? ''], {
      encoding: 'utf8',
    });
    assert.equal(out, words.map((w) => `<${w}>`).join(''));
  });

  it('leaves plain words bare, so the audit log stays readable', function () {
    assert.equal(shellQuote('ls'), 'ls');
    assert.equal(shellQuote('/a/b.txt'), '/a/b.txt');
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});
