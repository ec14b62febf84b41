import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError, parseBastionConfig } from '@neetodeploy/bastion';
import { parseProxyHeader } from '../../bastion/src/proxy-protocol/index.js';
import type { ProxyParseResult } from '../../bastion/src/proxy-protocol/index.js';
import { tlv, v2Header } from './proxy-protocol-header.js';

const SSH_BANNER = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');

function problem(result: ProxyParseResult): string {
  return result.status === 'invalid' ? result.problem : `not invalid: ${result.status}`;
}

describe('PROXY protocol header parser', () => {
  describe('version 2', () => {
    it('reads the client and destination of a TCP over IPv4 header', () => {
      const header = v2Header({
        source: { ip: '203.0.113.7', port: 51234 },
        destination: { ip: '10.0.0.5', port: 22 },
      });
      assert.deepEqual(parseProxyHeader(header), {
        status: 'complete',
        length: 28,
        header: {
          kind: 'proxied',
          version: 2,
          family: 'tcp4',
          source: { ip: '203.0.113.7', port: 51234 },
          destination: { ip: '10.0.0.5', port: 22 },
        },
      });
    });

    it('reads IPv6 addresses in canonical form, IPv4-mapped ones as IPv4', () => {
      const r = parseProxyHeader(
        v2Header({
          source: { ip: '2001:0db8:0000:0000:0000:0000:0000:0007', port: 1 },
          destination: { ip: '0000:0000:0000:0000:0000:ffff:0a00:0005', port: 2222 },
        }),
      );
      assert.equal(r.status, 'complete');
      assert.equal(r.status === 'complete' && r.length, 52);
      assert.deepEqual(r.status === 'complete' && r.header, {
        kind: 'proxied',
        version: 2,
        family: 'tcp6',
        source: { ip: '2001:db8::7', port: 1 },
        destination: { ip: '10.0.0.5', port: 2222 },
      });
    });

    it('skips TLVs and leaves the bytes after the header to the caller', () => {
      const tlvs = Buffer.concat([
        tlv(0xea, Buffer.from('\x01vpce-0123456789abcdef0')),
        tlv(0x04, Buffer.alloc(0)),
      ]);
      const header = v2Header({ tlvs });
      const r = parseProxyHeader(Buffer.concat([header, SSH_BANNER]));
      assert.equal(r.status, 'complete');
      assert.equal(r.status === 'complete' && r.length, header.length);
      assert.equal(r.status === 'complete' && r.header.kind, 'proxied');
    });

    it('LOCAL (a health check) keeps the socket address, whatever the address block says', () => {
      const header = v2Header({ command: 'local', familyByte: 0x11 });
      assert.deepEqual(parseProxyHeader(header), {
        status: 'complete',
        length: header.length,
        header: { kind: 'unproxied', version: 2, reason: 'local' },
      });
      assert.deepEqual(parseProxyHeader(v2Header({ command: 'local' })), {
        status: 'complete',
        length: 16,
        header: { kind: 'unproxied', version: 2, reason: 'local' },
      });
    });

    it('PROXY with an unspecified family names no client', () => {
      const r = parseProxyHeader(v2Header({ familyByte: 0x00, length: 0 }));
      assert.deepEqual(r, {
        status: 'complete',
        length: 16,
        header: { kind: 'unproxied', version: 2, reason: 'unspecified' },
      });
    });

    it('asks for more bytes on every strict prefix of a header, split anywhere', () => {
      const header = v2Header({ tlvs: tlv(0x05, randomBytes(40)) });
      for (let n = 0; n < header.length; n++) {
        assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { status: 'incomplete' }, `${n}`);
      }
    });

    it('refuses, at the first byte, a client speaking SSH or anything else', () => {
      assert.equal(problem(parseProxyHeader(SSH_BANNER.subarray(0, 1))), 'not-a-proxy-header');
      assert.equal(problem(parseProxyHeader(SSH_BANNER)), 'not-a-proxy-header');
      assert.equal(problem(parseProxyHeader(Buffer.from('\r\n\r\nX'))), 'not-a-proxy-header');
      assert.equal(problem(parseProxyHeader(Buffer.from('GET / HTTP/1.1'))), 'not-a-proxy-header');
    });

    it('refuses other versions, commands, families and transports', () => {
      assert.equal(
        problem(parseProxyHeader(v2Header({ versionCommandByte: 0x11 }).subarray(0, 13))),
        'unsupported-version',
      );
      assert.equal(
        problem(parseProxyHeader(v2Header({ versionCommandByte: 0x22 }))),
        'unsupported-command',
      );
      for (const familyByte of [0x12, 0x22, 0x31, 0x32, 0x41, 0x13]) {
        assert.equal(
          problem(parseProxyHeader(v2Header({ familyByte }))),
          'unsupported-family',
          familyByte.toString(16),
        );
      }
    });

    it('refuses an address block shorter than its family needs', () => {
      assert.equal(
        problem(parseProxyHeader(v2Header({ length: 11 }).subarray(0, 27))),
        'address-block-too-short',
      );
      const v6 = v2Header({
        source: { ip: '2001:0db8:0000:0000:0000:0000:0000:0007', port: 1 },
        destination: { ip: '2001:0db8:0000:0000:0000:0000:0000:0008', port: 2 },
        length: 35,
      });
      assert.equal(problem(parseProxyHeader(v6.subarray(0, 51))), 'address-block-too-short');
    });

    it('refuses a length over the cap as soon as the length field is read', () => {
      const big = v2Header({ length: 65535 }).subarray(0, 16);
      assert.equal(problem(parseProxyHeader(big)), 'too-long');
      const header = v2Header({ tlvs: tlv(0xe0, Buffer.alloc(100)) });
      assert.equal(problem(parseProxyHeader(header, { maxBytes: 64 })), 'too-long');
      assert.equal(parseProxyHeader(header, { maxBytes: header.length }).status, 'complete');
    });
  });

  describe('version 1', () => {
    it('reads TCP4, TCP6 and UNKNOWN lines', () => {
      const line = 'PROXY TCP4 203.0.113.7 10.0.0.5 51234 22\r\n';
      assert.deepEqual(parseProxyHeader(Buffer.from(`${line}SSH-2.0-x\r\n`)), {
        status: 'complete',
        length: line.length,
        header: {
          kind: 'proxied',
          version: 1,
          family: 'tcp4',
          source: { ip: '203.0.113.7', port: 51234 },
          destination: { ip: '10.0.0.5', port: 22 },
        },
      });
      const v6 = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8:0::7 ::1 65535 0\r\n'));
      assert.equal(
        v6.status === 'complete' && v6.header.kind === 'proxied' && v6.header.source.ip,
        '2001:db8::7',
      );
      assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), {
        status: 'complete',
        length: 15,
        header: { kind: 'unproxied', version: 1, reason: 'unspecified' },
      });
    });

    it('asks for more bytes until the CRLF, and gives up at 107 bytes', () => {
      const line = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.5 51234 22\r\n');
      for (let n = 0; n < line.length; n++) {
        assert.equal(parseProxyHeader(line.subarray(0, n)).status, 'incomplete', `${n}`);
      }
      assert.equal(problem(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(101)}`))), 'too-long');
    });

    it('refuses malformed lines', () => {
      for (const text of [
        'PROXY TCP4 203.0.113.7 10.0.0.5 51234 65536\r\n',
        'PROXY TCP4 203.0.113.7 10.0.0.5 051234 22\r\n',
        'PROXY TCP4 203.0.113.7 10.0.0.5 51234 22 extra\r\n',
        'PROXY TCP4 2001:db8::7 10.0.0.5 51234 22\r\n',
        'PROXY TCP6 203.0.113.7 ::1 1 2\r\n',
        'PROXY TCP4  203.0.113.7 10.0.0.5 1 2\r\n',
        'PROXY TCP4 203.0.113.7\n10.0.0.5 1 2\r\n',
        'PROXY TCP4 203.0.113.7 10.0.0.5 1 2\r\r\n',
      ]) {
        const p = problem(parseProxyHeader(Buffer.from(text)));
        assert.ok(
          p === 'malformed-v1' || p === 'unsupported-family',
          `${JSON.stringify(text)}: ${p}`,
        );
      }
      assert.equal(
        problem(parseProxyHeader(Buffer.from('PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n'))),
        'unsupported-family',
      );
    });

    it('is not accepted when only version 2 is', () => {
      const r = parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'), { versions: [2] });
      assert.equal(problem(r), 'not-a-proxy-header');
    });
  });

  it('never throws, and never claims more bytes than it was given (random and mutated input)', () => {
    const valid = [
      v2Header(),
      v2Header({ tlvs: tlv(1, Buffer.from('h2')) }),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'),
    ];
    for (let i = 0; i < 3000; i++) {
      const base = valid[i % valid.length]!;
      const bytes =
        i % 2 === 0
          ? randomBytes(i % 80)
          : Buffer.from(base.map((b) => (Math.random() < 0.05 ? randomBytes(1)[0]! : b)));
      const r = parseProxyHeader(bytes);
      if (r.status === 'complete') assert.ok(r.length <= bytes.length);
    }
  });

  describe('config (listen.proxyProtocol)', () => {
    const base = {
      hostKeys: [{ privateKeyFile: 'k' }],
      trust: { static: { userCaKeyFiles: ['ca.pub'] } },
    };
    const withProxy = (proxyProtocol: unknown): unknown => ({
      ...base,
      listen: { host: '0.0.0.0', port: 2222, proxyProtocol },
    });

    it('is off by default', () => {
      assert.deepEqual(parseBastionConfig(base).listen.proxyProtocol, {
        enabled: false,
        trustedSources: [],
        headerTimeoutMs: 5000,
      });
    });

    it('needs the balancers listed when on, each an address or a CIDR network', () => {
      assert.throws(
        () => parseBastionConfig(withProxy({ enabled: true })),
        (e: Error) =>
          e instanceof ConfigError &&
          /bastion\.listen\.proxyProtocol\.trustedSources: list the load balancer/.test(e.message),
      );
      for (const bad of ['10.0.0.0/33', '10.0.0.1/8', 'lb.example', '10.0.0.1,10.0.0.2', '']) {
        assert.throws(
          () => parseBastionConfig(withProxy({ enabled: true, trustedSources: [bad] })),
          /trustedSources\.0: expected an IP address or a CIDR network/,
          bad,
        );
      }
      const ok = parseBastionConfig(
        withProxy({ enabled: true, trustedSources: ['10.0.0.0/8', 'fd00::/8', '192.0.2.1'] }),
      );
      assert.equal(ok.listen.proxyProtocol.enabled, true);
    });
  });
});
