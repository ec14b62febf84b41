/**
 * A client that answers the bastion's keyboard-interactive explanation with a new request
 * (instead of an info response) aborts the explanation: ssh2 then calls the prompt's callback
 * with an Error. That abort is not a failure to answer: the new request gets its own answer, and
 * one USERAUTH_FAILURE more would desynchronise the client.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { Connection } from 'ssh2';
import { attachAuthenticator } from '../../bastion/src/auth/authenticator.js';
import { parseBastionConfig } from '../../bastion/src/config.js';
import { createMetrics } from '../../bastion/src/metrics/index.js';
import type { Audit } from '../../bastion/src/audit.js';

type Callback = (answers: unknown) => void;

function keyboardContext() {
  const ctx = {
    method: 'keyboard-interactive' as const,
    username: 'demo',
    rejected: 0,
    callback: undefined as Callback | undefined,
    prompt(_prompts: unknown, _title: string, _instructions: string, cb: Callback): void {
      ctx.callback = cb;
    },
    reject(): void {
      ctx.rejected++;
    },
    accept(): void {
      throw new Error('not expected');
    },
  };
  return ctx;
}

describe('bastion authentication: keyboard-interactive explanation', () => {
  function attach() {
    const client = new EventEmitter();
    const audited: string[] = [];
    const audit = { auth: (e: { result: string }) => audited.push(e.result) } as unknown as Audit;
    const config = parseBastionConfig({
      hostKeys: [{ privateKeyFile: 'k' }],
      trust: { static: { userCaKeyFiles: ['ca.pub'] } },
    });
    attachAuthenticator(
      client as unknown as Connection,
      {
        state: 'pending',
        info: {
          id: 'c1',
          ip: '127.0.0.1',
          port: 1,
          kind: 'direct',
          transport: [],
          startedAt: new Date(),
        },
      },
      {
        trust: () => undefined,
        now: () => new Date(),
        limits: config.limits,
        metrics: createMetrics(),
        audit,
      },
      pino({ level: 'silent' }),
      () => assert.fail('nothing authenticates here'),
    );
    return { client, audited };
  }

  it('answers a client that read the explanation with one failure', () => {
    const { client, audited } = attach();
    const ctx = keyboardContext();
    client.emit('authentication', ctx);
    assert.ok(ctx.callback, 'the explanation was sent as an info request');
    ctx.callback([]);
    assert.equal(ctx.rejected, 1);
    assert.deepEqual(audited, ['failure']);
  });

  it('sends nothing for an explanation the client aborted with a new request', () => {
    const { client, audited } = attach();
    const ctx = keyboardContext();
    client.emit('authentication', ctx);
    ctx.callback!(new Error('Authentication request aborted'));
    assert.equal(ctx.rejected, 0);
    assert.deepEqual(audited, []);
  });
});
