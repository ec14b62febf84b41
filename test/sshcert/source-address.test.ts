/**
 * `sshcert/src/source-address.ts`: the `source-address` critical option: matching client addresses
 * and refusing lists as OpenSSH does.
 */
import assert from 'node:assert/strict';
import { matchSourceAddress } from '@neetodeploy/sshcert';
import { assertCode } from './helpers.js';

describe('sshcert: source-address', () => {
  const cases: [string, string, boolean][] = [
    ['192.0.2.0/24', '192.0.2.200', true],
    ['192.0.2.0/24', '192.0.3.1', false],
    ['10.1.2.3', '10.1.2.3', true],
    ['10.1.2.3', '10.1.2.4', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['10.0.0.0/8,2001:db8::/32', '2001:db8:1::5', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::1', '::1', true],
    ['::1', '127.0.0.1', false],
    ['192.0.2.0/24', '::ffff:192.0.2.7', true],
    ['::ffff:192.0.2.0/120', '192.0.2.7', true],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['10.0.0.0/8', 'not-an-ip', false],
  ];
  for (const [list, addr, expected] of cases) {
    it(`${addr} ${expected ? 'matches' : 'does not match'} ${list}`, () => {
      assert.equal(matchSourceAddress(list, addr), expected);
    });
  }
  it('refuses invalid lists as OpenSSH does (host bits, wildcards, bad lengths, empty entries)', () => {
    for (const bad of [
      '10.0.0.1/8',
      '10.0.0.*',
      '10.0.0.0/33',
      '::/129',
      '',
      '10.0.0.0/8,',
      '!10.0.0.1',
      'host.example',
    ]) {
      assertCode(() => matchSourceAddress(bad, '10.0.0.1'), 'malformed');
    }
  });
});
