import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import {
  parseBastionConfig,
  parseUsername,
  targetForVirtualHost,
  virtualHostApp,
  createConnectionGate,
  ConfigError,
} from '@neetodeploy/bastion';
import { pump, envAllowed } from '../../bastion/src/session/flow.js';
import { signatureAlgorithmFor } from '../../bastion/src/auth/verify.js';
import { refusalMessage } from '../../bastion/src/auth/messages.js';
import type { Certificate } from '@neetodeploy/sshcert';

const minimal = {
  hostKeys: [{ privateKeyFile: 'k' }],
  trust: { static: { userCaKeyFiles: ['ca.pub'] } },
};

describe('bastion units', () => {
  describe('config', () => {
    it('fills defaults like OpenSSH', () => {
      const c = parseBastionConfig(minimal);
      assert.deepEqual(c.limits.maxStartups, { begin: 10, rate: 30, full: 100 });
      assert.equal(c.limits.authTimeoutMs, 30_000);
      assert.equal(c.limits.maxAuthTries, 6);
      assert.equal(c.virtualHostSuffix, '.neetodeploy');
      assert.deepEqual(c.session.envAllow, ['*']);
      assert.deepEqual(Object.keys(c.session.subsystems), ['sftp']);
    });
    it('takes the kubernetes platform config, validated by its own schema', () => {
      const c = parseBastionConfig({
        ...minimal,
        platform: { type: 'kubernetes', namespaces: { mode: 'shared', namespace: 'apps' } },
      });
      assert.equal(c.platform.type, 'kubernetes');
      assert.throws(
        () =>
          parseBastionConfig({
            ...minimal,
            platform: { type: 'kubernetes', namespaces: ['apps'] },
          }),
        /bastion\.platform\.namespaces/,
      );
      assert.throws(
        () => parseBastionConfig({ ...minimal, platform: { type: 'docker' } }),
        /bastion\.platform/,
      );
    });
    it("takes the local platform's isolation mode, and refuses an unknown one", () => {
      const c = parseBastionConfig({
        ...minimal,
        platform: { type: 'local', dataDir: 'd', isolation: 'sandbox' },
      });
      assert.equal(c.platform.type === 'local' && c.platform.isolation, 'sandbox');
      assert.throws(
        () =>
          parseBastionConfig({
            ...minimal,
            platform: { type: 'local', dataDir: 'd', isolation: 'chroot' },
          }),
        /bastion\.platform\.isolation/,
      );
    });
    it('reports errors with their path', () => {
      assert.throws(
        () =>
          parseBastionConfig({
            ...minimal,
            limits: { authTimeoutMs: -1, maxStartups: { begin: 50, full: 10 } },
          }),
        (err: unknown) =>
          err instanceof ConfigError &&
          /bastion\.limits\.authTimeoutMs/.test(err.message) &&
          /bastion\.limits\.maxStartups\.full/.test(err.message),
      );
      assert.throws(
        () => parseBastionConfig({ hostKeys: [{ privateKeyFile: 'k' }], trust: {} }),
        /set exactly one of trust.static or trust.keysService/,
      );
      assert.throws(() => parseBastionConfig({ ...minimal, hostKeys: [] }), /bastion\.hostKeys/);
      // A typo is an error, not a silently ignored setting.
      assert.throws(
        () => parseBastionConfig({ ...minimal, limits: { authTimoutMs: 5 } }),
        /bastion\.limits.*authTimoutMs/,
      );
    });
  });

  describe('user names and virtual hosts', () => {
    it('parses APP, APP:PROCESS, APP:pod=NAME', () => {
      assert.deepEqual(parseUsername('demo'), { app: 'demo' });
      assert.deepEqual(parseUsername('demo:web'), { app: 'demo', process: 'web' });
      assert.deepEqual(parseUsername('demo:pod=web.1'), { app: 'demo', pod: 'web.1' });
      for (const bad of ['', 'Demo', 'demo:', 'demo:pod=', 'de mo', 'demo:pod=../x', '-demo'])
        assert.equal(parseUsername(bad), undefined, bad);
    });
    it('maps virtual hosts and lets any user name mean the app', () => {
      assert.equal(virtualHostApp('demo.neetodeploy', '.neetodeploy'), 'demo');
      assert.equal(virtualHostApp('DEMO.neetodeploy', '.neetodeploy'), 'demo');
      assert.equal(virtualHostApp('a.b.neetodeploy', '.neetodeploy'), undefined);
      assert.equal(virtualHostApp('example.com', '.neetodeploy'), undefined);
      assert.deepEqual(targetForVirtualHost('demo', 'root'), { app: 'demo' });
      assert.deepEqual(targetForVirtualHost('demo', 'demo:worker'), {
        app: 'demo',
        process: 'worker',
      });
      assert.deepEqual(targetForVirtualHost('demo', 'other:worker'), { app: 'demo' });
    });
    it('accepts only signature algorithms that fit the certificate algorithm', () => {
      assert.equal(signatureAlgorithmFor('ssh-ed25519-cert-v01@openssh.com'), 'ssh-ed25519');
      assert.equal(signatureAlgorithmFor('rsa-sha2-512-cert-v01@openssh.com'), 'rsa-sha2-512');
      assert.equal(signatureAlgorithmFor('ssh-rsa-cert-v01@openssh.com'), undefined);
      assert.equal(signatureAlgorithmFor('ssh-ed25519'), undefined);
    });
    it('filters env by the allow-list', () => {
      const allow = ['LANG', 'LC_*'];
      assert.equal(envAllowed('LC_ALL', allow), true);
      assert.equal(envAllowed('LANG', allow), true);
      assert.equal(envAllowed('LANGUAGE', allow), false);
      assert.equal(envAllowed('LD_PRELOAD', allow), false);
    });
  });

  describe('refusal messages', () => {
    const now = new Date('2026-11-22T10:00:00Z');
    const t = BigInt(now.getTime() / 1000);
    const cert = (over: Partial<Certificate>) =>
      ({
        principals: ['billing'],
        validAfter: t - 600n,
        validBefore: t + 600n,
        ...over,
      }) as Certificate;
    it('say why and what to run', () => {
      assert.equal(
        refusalMessage('expired', {
          now,
          ip: '10.0.0.1',
          app: 'demo',
          certificate: cert({ validBefore: t - 180n }),
        }),
        'neetodeploy: certificate expired 3 minutes ago: run `neetodeploy login`, then connect again',
      );
      assert.match(
        refusalMessage('expired', { now, ip: '10.0.0.1' }),
        /^neetodeploy: certificate expired: run `neetodeploy login`/,
      );
      assert.match(
        refusalMessage('not-yet-valid', {
          now,
          ip: 'x',
          certificate: cert({ validAfter: t + 7200n }),
        }),
        /for another 2 hours/,
      );
      assert.match(
        refusalMessage('principal-not-listed', {
          now,
          ip: 'x',
          app: 'demo',
          certificate: cert({}),
        }),
        /does not grant access to app `demo` \(it grants: billing\): run `neetodeploy apps`/,
      );
      assert.match(
        refusalMessage('source-address-not-allowed', { now, ip: '192.0.2.7' }),
        /may not be used from 192\.0\.2\.7/,
      );
      assert.match(
        refusalMessage('not-a-certificate', { now, ip: 'x', app: 'demo' }),
        /ssh demo\.neetodeploy.*neetodeploy exec -a demo/,
      );
    });
  });

  describe('connection gate', () => {
    const sock = (bytesRead = 0): Socket =>
      Object.assign(new EventEmitter(), {
        bytesRead,
        destroyed: false,
        destroy() {
          this.destroyed = true;
        },
      }) as unknown as Socket;
    const limits = parseBastionConfig(minimal).limits;

    it('when full, evicts the least advanced: silent, then no key exchange, then the oldest', () => {
      const l = {
        ...limits,
        maxStartups: { begin: 4, rate: 100, full: 4 },
        perIpUnauthenticated: 100,
      };
      let t = 0;
      const gate = createConnectionGate(
        l,
        () => 0.99,
        undefined,
        () => t,
      );
      const admit = (s: Socket, ip = '10.0.0.1') => {
        const r = gate.admit(s, ip);
        assert.ok(r.ok);
        return r;
      };
      const oldKexDone = sock(900);
      admit(oldKexDone).keyExchanged();
      const bannerOnly = sock(10);
      admit(bannerOnly);
      const silent = sock(0);
      admit(silent);
      const newKexDone = sock(900);
      admit(newKexDone).keyExchanged();
      const destroyed = (s: Socket) => (s as unknown as { destroyed: boolean }).destroyed;
      assert.equal(gate.unauthenticated, 4);
      t = 5000; // the silent one has been silent for long enough to count as silent
      const fifth = admit(sock(900), '10.0.0.2');
      assert.equal(fifth.evicted, 1);
      fifth.keyExchanged();
      assert.deepEqual([destroyed(silent), destroyed(bannerOnly)], [true, false]);
      admit(sock(900), '10.0.0.2').keyExchanged();
      assert.equal(destroyed(bannerOnly), true, 'then the one that never finished key exchange');
      // Only connections past key exchange left: the oldest goes.
      const newest = sock(900);
      admit(newest).keyExchanged();
      assert.deepEqual([destroyed(oldKexDone), destroyed(newKexDone)], [true, false]);
      assert.equal(gate.unauthenticated, 4);
    });

    it('between equally advanced, evicts from the source holding the most slots, not a lone client', () => {
      const l = {
        ...limits,
        maxStartups: { begin: 4, rate: 100, full: 4 },
        perIpUnauthenticated: 100,
      };
      const gate = createConnectionGate(l, () => 0.99);
      const lone = sock(10);
      assert.ok(gate.admit(lone, '192.0.2.1').ok); // oldest of all
      const flood = [sock(10), sock(10), sock(10)];
      for (const s of flood) assert.ok(gate.admit(s, '198.51.100.7').ok);
      const r = gate.admit(sock(10), '198.51.100.8');
      assert.ok(r.ok && r.evicted === 1);
      const destroyed = (s: Socket) => (s as unknown as { destroyed: boolean }).destroyed;
      assert.equal(destroyed(lone), false);
      assert.deepEqual(flood.map(destroyed), [true, false, false]);
    });

    it('drops at random between begin and full by evicting the least advanced, not the newcomer', () => {
      const l = {
        ...limits,
        maxStartups: { begin: 1, rate: 50, full: 4 },
        perIpUnauthenticated: 100,
      };
      let roll = 0.99;
      const gate = createConnectionGate(l, () => roll);
      const first = sock(5);
      assert.equal(gate.admit(first, 'a').ok, true);
      roll = 0;
      const r = gate.admit(sock(5), 'a');
      assert.ok(r.ok && r.evicted === 1);
      assert.equal((first as unknown as { destroyed: boolean }).destroyed, true);
      roll = 0.99;
      const calm = gate.admit(sock(5), 'a');
      assert.ok(calm.ok && calm.evicted === 0);
    });

    it('refuses a penalised source before anything else', () => {
      const penalties = {
        refused: (ip: string) => (ip === 'bad' ? 30 : undefined),
        offend() {},
        size: 1,
      };
      const gate = createConnectionGate(limits, () => 0.99, penalties);
      assert.deepEqual(gate.admit(sock(), 'bad'), { ok: false, reason: 'per-source-penalty' });
      assert.equal(gate.admit(sock(), 'good').ok, true);
    });

    it('caps per source address and frees slots on authentication and close', () => {
      const gate = createConnectionGate(
        { ...limits, perIpUnauthenticated: 2, perIpConnections: 3 },
        () => 0.99,
      );
      const a = gate.admit(sock(1), 'x');
      const b = gate.admit(sock(1), 'x');
      assert.ok(a.ok && b.ok);
      a.authenticated();
      b.authenticated();
      const c = gate.admit(sock(1), 'x');
      assert.equal(c.ok, true);
      assert.deepEqual(gate.admit(sock(1), 'x'), { ok: false, reason: 'per-ip-connections' });
      a.release();
      // A third unauthenticated one from x evicts x's oldest unauthenticated, never another's.
      const y = sock(1);
      assert.equal(gate.admit(y, 'y').ok, true);
      const d = gate.admit(sock(1), 'x');
      assert.ok(d.ok && d.evicted === 0);
      const e = gate.admit(sock(1), 'x');
      assert.deepEqual(e, { ok: false, reason: 'per-ip-connections' });
      assert.equal((y as unknown as { destroyed: boolean }).destroyed, false);
    });
  });

  describe('pump (flow control)', () => {
    it('pauses the source while the transport needs a drain, resumes on drain, loses nothing', async () => {
      const src = new PassThrough({ highWaterMark: 1024 });
      const got: Buffer[] = [];
      const dst = new Writable({
        highWaterMark: 1 << 20,
        write: (c: Buffer, _e, cb) => (got.push(c), cb()),
      });
      // A transport that is congested (like a socket the client stopped reading).
      const transport = Object.assign(new EventEmitter(), {
        writableNeedDrain: true,
        destroyed: false,
      }) as unknown as Writable;
      let bytes = 0;
      const done = pump(src, dst, [transport], new Promise(() => undefined), (n) => (bytes += n));
      src.write(Buffer.alloc(100, 1));
      await new Promise((r) => setImmediate(r));
      assert.equal(src.isPaused(), true);
      // While paused, a writer sees backpressure instead of us buffering.
      let accepted = 0;
      while (src.write(Buffer.alloc(512))) accepted++;
      assert.ok(accepted < 10);
      Object.assign(transport, { writableNeedDrain: false });
      transport.emit('drain');
      src.end();
      await done;
      assert.equal(Buffer.concat(got).length, bytes);
      assert.equal(bytes, 100 + 512 * (accepted + 1));
    });

    it('stops when the channel closes', async () => {
      const src = Readable.from([Buffer.from('x')]);
      let close!: () => void;
      const closed = new Promise<void>((r) => (close = r));
      const dst = new Writable({ write: (_c, _e, cb) => cb() });
      const p = pump(new PassThrough(), dst, [], closed, () => undefined);
      close();
      await p;
      void src;
    });

    it('copies a source to one destination at a time, and lets it go when done', async () => {
      const src = new PassThrough();
      const sink = (got: Buffer[]) =>
        new Writable({ write: (c: Buffer, _e, cb) => (got.push(c), cb()) });
      const first: Buffer[] = [];
      const second: Buffer[] = [];
      const never = new Promise<void>(() => undefined);
      const one = pump(src, sink(first), [], never, () => undefined);
      assert.throws(() => pump(src, sink(second), [], never, () => undefined), /already/);
      src.write('a');
      src.end();
      await one;
      assert.equal(Buffer.concat(first).toString(), 'a');
      assert.equal(src.listenerCount('data'), 0);
      // Once done, the same stream may be copied again (nothing left of the first copy).
      const again = new PassThrough();
      await pump(again, sink(second), [], Promise.resolve(), () => undefined);
      await pump(again, sink(second), [], Promise.resolve(), () => undefined);
    });
  });
});
