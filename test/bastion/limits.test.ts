import assert from 'node:assert/strict';
import {
  armDeadline,
  createAuthTries,
  createChannelBudget,
  createUserSessions,
  envRoomFor,
  MAX_ENV_VARIABLES,
  startSessionClocks,
} from '../../bastion/src/limits/index.js';

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('bastion limits', () => {
  it('auth tries: the attempt that reaches the limit is the one that says so', () => {
    const tries = createAuthTries(3);
    assert.deepEqual([tries.fail(), tries.fail(), tries.fail()], [false, false, true]);
    assert.equal(tries.failures, 3);
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
});
