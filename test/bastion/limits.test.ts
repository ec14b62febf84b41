import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import {
  armDeadline,
  boundLogFields,
  createAuthTries,
  createSourcePenalties,
  MAX_LOG_FIELD_CHARS,
  usernameFits,
  createChannelBudget,
  createUserSessions,
  envRoomFor,
  MAX_ENV_VARIABLES,
  startSessionClocks,
} from '../../bastion/src/limits/index.js';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseBastionConfig } from '../../bastion/src/config.js';

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('bastion limits', () => {
  it('auth tries: counted on arrival, the one past the limit is refused', () => {
    const tries = createAuthTries(3);
    assert.deepEqual(
      [tries.attempt(), tries.attempt(), tries.attempt(), tries.attempt()],
      [true, true, true, false],
    );
    assert.equal(tries.attempts, 4);
  });

  it('user names: 256 bytes pass, 257 do not, multi-byte characters counted in bytes', () => {
    assert.equal(usernameFits('a'.repeat(256)), true);
    assert.equal(usernameFits('a'.repeat(257)), false);
    assert.equal(usernameFits('é'.repeat(128)), true);
    assert.equal(usernameFits('é'.repeat(129)), false);
    assert.equal(usernameFits('x'.repeat(32 << 20)), false);
  });

  it('log fields: every string is cut, nested ones and keys too; dates are left alone', () => {
    const big = 'u'.repeat(1 << 20);
    const when = new Date(0);
    const out = boundLogFields({ username: big, nested: { list: [big], [big]: 1 }, when, n: 3 });
    const text = JSON.stringify(out);
    assert.ok(text.length < 4 * MAX_LOG_FIELD_CHARS + 400, `${text.length} chars`);
    assert.match(out.username as string, /more chars\]$/);
    assert.equal(out.when, when);
    assert.equal(out.n, 3);
  });

  it('log fields: bounded in every line of child loggers, as app.ts installs it', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()),
    });
    const bounded = pino({ level: 'info' }, sink).child(
      {},
      { formatters: { log: boundLogFields } },
    );
    bounded
      .child({ module: 'bastion' })
      .child({ connectionId: 'c' })
      .info({ request: 'r'.repeat(100_000), err: new Error('e'.repeat(100_000)) }, 'refused');
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.length < 3 * MAX_LOG_FIELD_CHARS, `${lines[0]!.length} chars`);
    assert.match(lines[0]!, /"module":"bastion"/);
  });

  it('defaults: kex deadline 10 s, penalties on, sessions outlive their certificate', () => {
    const l = parseBastionConfig({
      hostKeys: [{ privateKeyFile: 'k' }],
      trust: { static: { userCaKeyFiles: ['ca'] } },
    }).limits;
    assert.equal(l.kexTimeoutMs, 10_000);
    assert.equal(l.perSourcePenalties.enabled, true);
    assert.equal(l.disconnectExpiredCertificates, false);
  });

  it('per-source penalties: enforced from minSeconds, grow to maxSeconds, expire, bounded table', () => {
    let t = 0;
    const config = parseBastionConfig({
      hostKeys: [{ privateKeyFile: 'k' }],
      trust: { static: { userCaKeyFiles: ['ca'] } },
      limits: { perSourcePenalties: { maxSources: 3, exempt: ['10.9.9.9'] } },
    }).limits.perSourcePenalties;
    const p = createSourcePenalties(config, () => t);
    p.offend('10.0.0.1', 'graceExceeded');
    assert.equal(p.refused('10.0.0.1'), undefined, 'one slow client is not locked out');
    p.offend('10.0.0.1', 'graceExceeded');
    assert.equal(p.refused('10.0.0.1'), 20);
    for (let i = 0; i < 100; i++) p.offend('10.0.0.1', 'graceExceeded');
    assert.equal(p.refused('10.0.0.1'), 600, 'capped');
    t += 601_000;
    assert.equal(p.refused('10.0.0.1'), undefined, 'expired');
    for (const ip of ['a', 'b', 'c', 'd', 'e']) p.offend(ip, 'badUsername');
    assert.ok(p.size <= 3, `table holds ${p.size}`);
    assert.equal(p.refused('e'), 60);
    p.offend('10.9.9.9', 'badUsername');
    assert.equal(p.refused('10.9.9.9'), undefined, 'exempt');
  });

  it('channel budget: refuses past the cap and takes back what was released', () => {
    const budget = createChannelBudget(2);
    assert.equal(budget.tryReserve(), true);
    assert.equal(budget.tryReserve(), true);
    assert.equal(budget.tryReserve(), false);
    budget.release();
    assert.equal(budget.open, 1);
    assert.equal(budget.tryReserve(), true);
  });

  it('sessions per user: counted per user, freed on release', () => {
    const sessions = createUserSessions(1);
    assert.equal(sessions.tryAcquire('a@example.com'), true);
    assert.equal(sessions.tryAcquire('a@example.com'), false);
    assert.equal(sessions.tryAcquire('b@example.com'), true);
    sessions.release('a@example.com');
    assert.equal(sessions.tryAcquire('a@example.com'), true);
  });

  it('env count: room for exactly MAX_ENV_VARIABLES', () => {
    assert.equal(envRoomFor(MAX_ENV_VARIABLES - 1), true);
    assert.equal(envRoomFor(MAX_ENV_VARIABLES), false);
  });

  it('a deadline fires once unless cleared', async () => {
    let fired = 0;
    armDeadline(10, () => fired++);
    armDeadline(10, () => fired++).clear();
    await wait(40);
    assert.equal(fired, 1);
  });

  it('session clocks: traffic postpones the idle timeout, not the maximum length', async () => {
    const expired: string[] = [];
    const clocks = startSessionClocks({ idleTimeoutMs: 200, maxSessionMs: 150 }, (limit) =>
      expired.push(limit),
    );
    for (let i = 0; i < 9; i++) {
      await wait(30);
      clocks.touch();
    }
    assert.deepEqual(expired, ['max-session-length']);
    clocks.clear();
  });

  it('session clocks: an idle connection expires once, not before its limit; a cleared one never', async () => {
    const fired: { limit: string; at: number }[] = [];
    const t0 = performance.now();
    const limits = { idleTimeoutMs: 200, maxSessionMs: 5_000 };
    startSessionClocks(limits, (limit) => fired.push({ limit, at: performance.now() - t0 }));
    const cleared = startSessionClocks(limits, (limit) => fired.push({ limit, at: -1 }));
    cleared.clear();
    await wait(400);
    assert.equal(fired.length, 1, JSON.stringify(fired));
    assert.equal(fired[0]!.limit, 'idle-timeout');
    assert.ok(fired[0]!.at >= 200 && fired[0]!.at < 1_000, `fired after ${fired[0]!.at} ms`);
  });
});
