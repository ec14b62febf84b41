/**
 * The repository contract of the keys-service (`keys-service/src/storage/types.ts`) as a test
 * suite. Every store implementation runs it: `runRepositoryConformance('sqlite', factory)`; a
 * Kubernetes-backed store runs the same against the fake API server.
 */
import assert from 'node:assert/strict';
import type { KeysStore, LoginSessionRecord } from '@neetodeploy/keys-service';

export interface StoreFactory {
  /** A fresh, empty store. */
  create(): Promise<KeysStore>;
  /** Optional: reopen the same state (persistence check); omitted if the store is in memory. */
  reopen?(previous: KeysStore): Promise<KeysStore>;
  /** Releases what create() made (temp dirs, ...), after the store was closed. */
  dispose?(): Promise<void>;
}

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

function session(overrides: Partial<LoginSessionRecord> = {}): LoginSessionRecord {
  return {
    deviceCodeHash: 'a'.repeat(64),
    userCode: 'BCDFGHJK',
    clientDescription: 'neetodeploy 0.1.0 on laptop',
    clientIp: '127.0.0.1',
    createdAt: T0,
    expiresAt: at(600),
    intervalSeconds: 5,
    state: 'pending',
    ...overrides,
  };
}

export function runRepositoryConformance(name: string, factory: StoreFactory): void {
  describe(`keys repositories conformance: ${name}`, function () {
    let store: KeysStore;

    beforeEach(async function () {
      store = await factory.create();
    });

    afterEach(async function () {
      await store.close();
      await factory.dispose?.();
    });

    describe('users', function () {
      it('upserts, reads case-insensitively and lists sorted', async function () {
        assert.equal(await store.users.get('nobody@example.com'), undefined);
        await store.users.upsert({
          email: 'Zed@Example.com',
          groups: ['b'],
          passwordHash: 'h1',
          createdAt: T0,
        });
        await store.users.upsert({ email: 'amy@example.com', groups: [], createdAt: T0 });
        const zed = await store.users.get('zed@example.com');
        assert.equal(zed?.email, 'zed@example.com');
        assert.deepEqual(zed?.groups, ['b']);
        assert.equal(zed?.passwordHash, 'h1');
        assert.equal(zed?.createdAt.getTime(), T0.getTime());
        await store.users.upsert({
          email: 'zed@example.com',
          groups: ['c', 'd'],
          passwordHash: 'h2',
          createdAt: at(5),
        });
        const updated = await store.users.get('ZED@example.com');
        assert.deepEqual(updated?.groups, ['c', 'd']);
        assert.equal(updated?.passwordHash, 'h2');
        const all = await store.users.list();
        assert.deepEqual(
          all.map((u) => u.email),
          ['amy@example.com', 'zed@example.com'],
        );
        assert.equal(all[0]?.passwordHash, undefined);
      });

      it("keeps an identity provider's link (subject, refresh token, groups check time) and replaces it", async function () {
        await store.users.upsert({ email: 'ida@example.com', groups: ['a'], createdAt: T0 });
        assert.equal((await store.users.get('ida@example.com'))?.idp, undefined);
        await store.users.upsert({
          email: 'ida@example.com',
          groups: ['a'],
          createdAt: T0,
          idp: { subject: 'sub-1', refreshToken: 'rt-1', groupsCheckedAt: at(1) },
        });
        const linked = await store.users.get('ida@example.com');
        assert.deepEqual(linked?.idp, {
          subject: 'sub-1',
          refreshToken: 'rt-1',
          groupsCheckedAt: at(1),
        });
        await store.users.upsert({
          email: 'ida@example.com',
          groups: ['b'],
          createdAt: T0,
          idp: { subject: 'sub-1', groupsCheckedAt: at(2) },
        });
        const relinked = await store.users.get('ida@example.com');
        assert.deepEqual(relinked?.idp, { subject: 'sub-1', groupsCheckedAt: at(2) });
        assert.deepEqual(relinked?.groups, ['b']);
        // An upsert without a link drops it (the account signs in locally again).
        await store.users.upsert({ email: 'ida@example.com', groups: ['c'], createdAt: T0 });
        assert.equal((await store.users.get('ida@example.com'))?.idp, undefined);
      });
    });

    describe('users: remove', function () {
      it('removes an account once, any case', async function () {
        await store.users.upsert({ email: 'amy@example.com', groups: [], createdAt: T0 });
        assert.equal(await store.users.remove('AMY@example.com'), true);
        assert.equal(await store.users.get('amy@example.com'), undefined);
        assert.equal(await store.users.remove('amy@example.com'), false);
      });
    });

    describe('tokens', function () {
      const token = {
        hash: 'f'.repeat(64),
        email: 'amy@example.com',
        clientDescription: 'ci',
        createdAt: T0,
        expiresAt: at(3600),
      };

      it('creates, finds by hash and touches', async function () {
        await store.tokens.create(token);
        const found = await store.tokens.findByHash(token.hash);
        assert.equal(found?.email, 'amy@example.com');
        assert.equal(found?.expiresAt.getTime(), at(3600).getTime());
        assert.equal(found?.lastUsedAt, undefined);
        assert.equal(found?.revokedAt, undefined);
        await store.tokens.touch(token.hash, at(10));
        assert.equal(
          (await store.tokens.findByHash(token.hash))?.lastUsedAt?.getTime(),
          at(10).getTime(),
        );
        assert.equal(await store.tokens.findByHash('0'.repeat(64)), undefined);
      });

      it('finds a bearer: the token with its holder\'s groups and "not before"', async function () {
        await store.tokens.create(token);
        assert.equal(await store.tokens.findBearer('0'.repeat(64)), undefined);
        const bare = await store.tokens.findBearer(token.hash);
        assert.equal(bare?.token.email, 'amy@example.com');
        assert.equal(bare?.token.expiresAt.getTime(), at(3600).getTime());
        assert.deepEqual(bare?.groups, []);
        assert.equal(bare?.notBefore, undefined);
        assert.ok(bare && !('notBefore' in bare));

        await store.users.upsert({
          email: 'Amy@example.com',
          groups: ['ops', 'dev'],
          createdAt: T0,
        });
        await store.revocations.setNotBefore('amy@example.com', 1234);
        await store.tokens.touch(token.hash, at(10));
        const full = await store.tokens.findBearer(token.hash);
        assert.deepEqual(full?.groups, ['ops', 'dev']);
        assert.equal(full?.notBefore, 1234);
        assert.equal(full?.token.lastUsedAt?.getTime(), at(10).getTime());
        assert.deepEqual(full?.token, await store.tokens.findByHash(token.hash));
      });

      it('revokes one token once, and all live tokens of a user', async function () {
        await store.tokens.create(token);
        await store.tokens.create({ ...token, hash: 'e'.repeat(64) });
        await store.tokens.create({ ...token, hash: 'd'.repeat(64), email: 'other@example.com' });
        await store.tokens.create({ ...token, hash: 'c'.repeat(64), expiresAt: at(1) });
        assert.equal(await store.tokens.revoke(token.hash, at(5)), true);
        assert.equal(await store.tokens.revoke(token.hash, at(6)), false);
        assert.equal(
          (await store.tokens.findByHash(token.hash))?.revokedAt?.getTime(),
          at(5).getTime(),
        );
        // Only the live, unrevoked one of amy's remaining tokens counts.
        assert.equal(await store.tokens.revokeAllForUser('AMY@example.com', at(7)), 1);
        assert.ok((await store.tokens.findByHash('e'.repeat(64)))?.revokedAt);
        assert.equal((await store.tokens.findByHash('d'.repeat(64)))?.revokedAt, undefined);
      });

      it("lists tokens newest first, all or one user's (any case), revoked ones included", async function () {
        await store.tokens.create(token);
        await store.tokens.create({ ...token, hash: 'e'.repeat(64), createdAt: at(5) });
        await store.tokens.create({ ...token, hash: 'd'.repeat(64), email: 'other@example.com' });
        await store.tokens.revoke('e'.repeat(64), at(6));
        const amy = await store.tokens.list({ email: 'Amy@Example.com' });
        assert.deepEqual(
          amy.map((t) => t.hash),
          ['e'.repeat(64), 'f'.repeat(64)],
        );
        assert.ok(amy[0]?.revokedAt);
        assert.equal((await store.tokens.list()).length, 3);
        assert.deepEqual(await store.tokens.list({ email: 'nobody@example.com' }), []);
      });

      it('deletes expired tokens', async function () {
        await store.tokens.create(token);
        await store.tokens.create({ ...token, hash: 'c'.repeat(64), expiresAt: at(1) });
        assert.equal(await store.tokens.deleteExpired(at(2)), 1);
        assert.equal(await store.tokens.findByHash('c'.repeat(64)), undefined);
        assert.ok(await store.tokens.findByHash(token.hash));
      });
    });

    describe('login sessions', function () {
      it('creates and finds by device code hash and live user code', async function () {
        await store.loginSessions.create(session());
        const byHash = await store.loginSessions.findByDeviceCodeHash('a'.repeat(64));
        assert.equal(byHash?.userCode, 'BCDFGHJK');
        assert.equal(byHash?.state, 'pending');
        assert.equal(byHash?.email, undefined);
        assert.equal(
          (await store.loginSessions.findLiveByUserCode('BCDFGHJK', at(1)))?.deviceCodeHash,
          'a'.repeat(64),
        );
        assert.equal(await store.loginSessions.findLiveByUserCode('BCDFGHJK', at(600)), undefined);
        assert.equal(await store.loginSessions.findLiveByUserCode('ZZZZZZZZ', at(1)), undefined);
      });

      it('refuses a second live session with the same user code (Conflict)', async function () {
        await store.loginSessions.create(session());
        await assert.rejects(
          store.loginSessions.create(session({ deviceCodeHash: 'b'.repeat(64), createdAt: at(1) })),
          (err: Error) => err.name === 'Conflict',
        );
        // Once the first has expired, the code may be reused.
        await store.loginSessions.create(
          session({ deviceCodeHash: 'b'.repeat(64), createdAt: at(601), expiresAt: at(1200) }),
        );
      });

      it('records polls and intervals', async function () {
        await store.loginSessions.create(session());
        await store.loginSessions.recordPoll('a'.repeat(64), at(3), 10);
        const s = await store.loginSessions.findByDeviceCodeHash('a'.repeat(64));
        assert.equal(s?.lastPolledAt?.getTime(), at(3).getTime());
        assert.equal(s?.intervalSeconds, 10);
      });

      it('decides a pending session once, and only before it expires', async function () {
        await store.loginSessions.create(session());
        assert.equal(
          await store.loginSessions.decide('a'.repeat(64), 'approved', 'Amy@example.com', at(10)),
          true,
        );
        assert.equal(
          await store.loginSessions.decide('a'.repeat(64), 'denied', 'amy@example.com', at(11)),
          false,
        );
        const s = await store.loginSessions.findByDeviceCodeHash('a'.repeat(64));
        assert.equal(s?.state, 'approved');
        assert.equal(s?.email, 'amy@example.com');
        await store.loginSessions.create(
          session({ deviceCodeHash: 'b'.repeat(64), userCode: 'CCCCCCCC' }),
        );
        assert.equal(
          await store.loginSessions.decide('b'.repeat(64), 'approved', 'amy@example.com', at(600)),
          false,
        );
      });

      it('redeems an approved session exactly once, even when raced', async function () {
        await store.loginSessions.create(session());
        assert.equal(
          await store.loginSessions.redeem('a'.repeat(64)),
          false,
          'pending cannot be redeemed',
        );
        await store.loginSessions.decide('a'.repeat(64), 'approved', 'amy@example.com', at(1));
        const results = await Promise.all(
          Array.from({ length: 8 }, () => store.loginSessions.redeem('a'.repeat(64))),
        );
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(
          (await store.loginSessions.findByDeviceCodeHash('a'.repeat(64)))?.state,
          'redeemed',
        );
      });

      it('deletes expired sessions', async function () {
        await store.loginSessions.create(session());
        assert.equal(await store.loginSessions.deleteExpired(at(599)), 0);
        assert.equal(await store.loginSessions.deleteExpired(at(601)), 1);
        assert.equal(await store.loginSessions.findByDeviceCodeHash('a'.repeat(64)), undefined);
      });
    });

    describe('revocations', function () {
      it('keeps not-before times, never moving them backwards, and bumps the version', async function () {
        const v0 = await store.revocations.version();
        assert.equal(await store.revocations.getNotBefore('amy@example.com'), undefined);
        await store.revocations.setNotBefore('Amy@example.com', 1000);
        const v1 = await store.revocations.version();
        assert.ok(v1 > v0);
        await store.revocations.setNotBefore('amy@example.com', 500);
        assert.equal(await store.revocations.getNotBefore('amy@example.com'), 1000);
        await store.revocations.setNotBefore('amy@example.com', 2000);
        await store.revocations.setNotBefore('bo@example.com', 7);
        assert.deepEqual(await store.revocations.listNotBefore(), {
          'amy@example.com': 2000,
          'bo@example.com': 7,
        });
        assert.ok((await store.revocations.version()) > v1);
      });

      it('finds "not before" for a bearer whatever the case of either email (issue 13 item 6)', async function () {
        await store.tokens.create({
          hash: 'c'.repeat(64),
          email: 'Carol@Example.COM',
          clientDescription: 'cli',
          createdAt: T0,
          expiresAt: at(3600),
        });
        await store.revocations.setNotBefore('CAROL@example.com', 4321);
        assert.equal((await store.tokens.findBearer('c'.repeat(64)))?.notBefore, 4321);
        assert.equal(await store.revocations.getNotBefore('carol@EXAMPLE.com'), 4321);
      });

      it('keeps a browser-session epoch per user, moved on by endSessions, any case', async function () {
        const v = await store.revocations.version();
        assert.equal(await store.revocations.sessionEpoch('amy@example.com'), 0);
        assert.equal(await store.revocations.endSessions('Amy@Example.com'), 1);
        assert.equal(await store.revocations.endSessions('amy@example.com'), 2);
        assert.equal(await store.revocations.sessionEpoch('AMY@example.com'), 2);
        assert.equal(await store.revocations.sessionEpoch('bo@example.com'), 0);
        assert.equal(await store.revocations.version(), v, 'the CA bundle does not change');
      });

      it('lists revoked serials sorted, without duplicates, full uint64 range', async function () {
        const big = 0xffffffffffffffffn;
        await store.revocations.revokeSerial(42n, T0);
        await store.revocations.revokeSerial(big, T0);
        const v = await store.revocations.version();
        await store.revocations.revokeSerial(42n, at(1));
        assert.equal(await store.revocations.version(), v, 'a duplicate changes nothing');
        await store.revocations.revokeSerial(7n, T0);
        assert.deepEqual(await store.revocations.listRevokedSerials(), [7n, 42n, big]);
      });
    });

    describe('revocations: pruning', function () {
      it('forgets serials revoked and not-befores set before a time, and the version moves', async function () {
        const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
        await store.revocations.revokeSerial(1n, T0);
        await store.revocations.revokeSerial(2n, at(100));
        await store.revocations.setNotBefore('old@example.com', seconds(T0));
        await store.revocations.setNotBefore('new@example.com', seconds(at(100)));
        const v = await store.revocations.version();
        assert.equal(await store.revocations.pruneBefore(at(50)), 2);
        assert.deepEqual(await store.revocations.listRevokedSerials(), [2n]);
        assert.deepEqual(await store.revocations.listNotBefore(), {
          'new@example.com': seconds(at(100)),
        });
        assert.equal(await store.revocations.getNotBefore('old@example.com'), undefined);
        assert.notEqual(await store.revocations.version(), v);
        assert.equal(await store.revocations.pruneBefore(at(50)), 0, 'nothing left to forget');
      });
    });

    describe('readiness', function () {
      it('is ready when it can serve', async function () {
        await store.ready();
      });
    });

    describe('audit', function () {
      it('appends and lists newest first, by type and limit', async function () {
        await store.audit.append({
          type: 'a',
          at: T0,
          actor: 'amy@example.com',
          details: { n: 1 },
        });
        await store.audit.append({
          type: 'b',
          at: at(1),
          app: 'demo',
          clientIp: '10.0.0.1',
          details: { ok: true, x: null },
        });
        await store.audit.append({ type: 'a', at: at(2), details: { n: 3, s: 'three' } });
        const all = await store.audit.list();
        assert.deepEqual(
          all.map((e) => e.type),
          ['a', 'b', 'a'],
        );
        assert.deepEqual(all[0]?.details, { n: 3, s: 'three' });
        assert.equal(all[1]?.app, 'demo');
        assert.equal(all[1]?.clientIp, '10.0.0.1');
        assert.equal(all[2]?.actor, 'amy@example.com');
        assert.equal(all[2]?.at.getTime(), T0.getTime());
        const onlyA = await store.audit.list({ type: 'a', limit: 1 });
        assert.equal(onlyA.length, 1);
        assert.deepEqual(onlyA[0]?.details, { n: 3, s: 'three' });
      });
    });

    if (factory.reopen) {
      it('keeps every acknowledged write across a reopen', async function () {
        await store.users.upsert({
          email: 'amy@example.com',
          groups: ['g'],
          passwordHash: 'h',
          createdAt: T0,
        });
        await store.tokens.create({
          hash: 'f'.repeat(64),
          email: 'amy@example.com',
          clientDescription: 'x',
          createdAt: T0,
          expiresAt: at(9),
        });
        await store.loginSessions.create(session());
        await store.revocations.setNotBefore('amy@example.com', 99);
        await store.audit.append({ type: 'a', at: T0, details: {} });
        store = await factory.reopen!(store);
        assert.ok(await store.users.get('amy@example.com'));
        assert.ok(await store.tokens.findByHash('f'.repeat(64)));
        assert.ok(await store.loginSessions.findByDeviceCodeHash('a'.repeat(64)));
        assert.equal(await store.revocations.getNotBefore('amy@example.com'), 99);
        assert.equal((await store.audit.list()).length, 1);
      });
    }
  });
}
