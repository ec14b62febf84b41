/**
 * Sessions through the bastion are recorded: a non-pty exec, an interactive pty session under
 * tmux with a resize, and the same through ProxyJump, with the real OpenSSH client. Each
 * recording verifies with the recording key and replays what the user saw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FileRecordingStore, verifyRecording } from '@neetodeploy/recording';
import { ssh, TmuxSession } from '../support/ssh-client.js';
import { startHarness, type Harness } from '../bastion/harness.js';
import { nextRecording, replay, streamOf, writeRecordingKey } from './support.js';

describe('recording: sessions through the bastion', function () {
  this.timeout(60_000);
  let h: Harness;
  let store: FileRecordingStore;
  let publicKeyPem: string;
  let config: string;
  const seen = new Set<string>();

  before(async () => {
    let keyFile = '';
    h = await startHarness({
      config: ({ dir }) => {
        keyFile = writeRecordingKey(dir);
        return {
          recording: {
            keyFile,
            store: { kind: 'file', dir: path.join(dir, 'recordings') },
            chunkBytes: 1024,
            flushIntervalMs: 200,
          },
        };
      },
    });
    store = new FileRecordingStore(path.join(h.dir, 'recordings'));
    publicKeyPem = readFileSync(keyFile, 'utf8');
    config = (await h.user('alice', { principals: ['demo'] })).config;
  });
  after(async () => {
    await h?.close();
  });

  async function verified(id: string): Promise<void> {
    const result = await verifyRecording(store, id, publicKeyPem);
    assert.equal(result.ok, true, JSON.stringify(result));
  }

  for (const via of ['direct', 'jump'] as const) {
    const host = via === 'direct' ? 'bastion' : 'demo.neetodeploy';

    describe(via === 'direct' ? 'direct' : 'through ProxyJump', () => {
      it('records a non-pty exec: stdout, stderr and the exit code', async () => {
        const r = await ssh(
          config,
          [host, 'echo to-stdout; echo to-stderr >&2; read line; echo "got $line"; exit 7'],
          {
            input: 'typed-input\n',
          },
        );
        assert.equal(r.code, 7, r.stderr);
        const m = await nextRecording(store, 'demo', seen);
        assert.equal(m.exitCode, 7);
        assert.equal(m.session.via, via);
        assert.equal(m.session.user, 'alice@example.com');
        assert.equal(m.session.pty, false);
        assert.match(m.session.command ?? '', /echo to-stdout/);
        await verified(m.id);
        const { header, events } = await replay(store, m.id);
        assert.equal(header.version, 3);
        assert.equal(header.neetodeploy.sessionId, m.id);
        assert.equal(header.neetodeploy.app, 'demo');
        assert.match(header.neetodeploy.keyId, /^alice@example.com:req/);
        assert.match(header.neetodeploy.certSerial, /^\d+$/);
        assert.match(header.neetodeploy.clientAddress, /^127\.0\.0\.1:\d+$/);
        assert.ok(header.neetodeploy.pod, 'the header names where the console ran');
        assert.equal(streamOf(events, 'o'), 'to-stdout\ngot typed-input\n');
        assert.equal(streamOf(events, 'e'), 'to-stderr\n');
        assert.equal(streamOf(events, 'i'), 'typed-input\n');
        assert.equal(streamOf(events, 'x'), '7');
        assert.equal(events.at(-1)?.[1], 'x', 'the exit is the last event');
      });

      it('records an interactive session under tmux, with its resize', async () => {
        const tmux = await TmuxSession.start(['ssh', '-F', config, '-tt', host], {
          cols: 100,
          rows: 30,
        });
        try {
          await tmux.type('echo "[$((6*7))]"\n');
          await tmux.waitFor(/\[42\]/);
          await tmux.resize(120, 40);
          await new Promise((r) => setTimeout(r, 200));
          await tmux.type('stty size\n');
          await tmux.waitFor(/40 120/);
          await tmux.type('exit 3\n');
          await tmux.waitFor(/closed|Pane is dead/);
        } finally {
          await tmux.kill();
        }
        const m = await nextRecording(store, 'demo', seen);
        assert.equal(m.exitCode, 3);
        assert.equal(m.session.pty, true);
        assert.equal(m.session.command, null);
        await verified(m.id);
        const { header, events } = await replay(store, m.id);
        assert.deepEqual(
          { cols: header.term.cols, rows: header.term.rows },
          { cols: 100, rows: 30 },
        );
        assert.equal(streamOf(events, 'r'), '120x40');
        assert.match(
          streamOf(events, 'i'),
          /echo "\[\$\(\(6\*7\)\)\]"[\r\n][^]*stty size[\r\n][^]*exit 3[\r\n]/,
        );
        const out = streamOf(events, 'o');
        assert.match(out, /\[42\]/);
        assert.match(out, /40 120/);
        const resizeAt = events.findIndex((e) => e[1] === 'r');
        const sttyAt = events.findIndex((e) => e[1] === 'o' && e[2].includes('40 120'));
        assert.ok(
          resizeAt >= 0 && resizeAt < sttyAt,
          'the resize comes before the output it changed',
        );
        assert.equal(streamOf(events, 'x'), '3');
      });
    });
  }

  it('leaves input out when the certificate says output-only, and records nothing when off', async () => {
    const outputOnly = await h.user('bob', {
      principals: ['demo'],
      options: ['clear', 'permit-pty', 'extension:recording@neetodeploy.com=output-only'],
    });
    const r = await ssh(outputOnly.config, ['bastion', 'read secret; echo "len ${#secret}"'], {
      input: 'hunter2\n',
    });
    assert.equal(r.stdout.toString(), 'len 7\n', r.stderr.toString());
    const m = await nextRecording(store, 'demo', seen);
    assert.equal(m.session.policy, 'output-only');
    await verified(m.id);
    const { events, text } = await replay(store, m.id);
    assert.equal(streamOf(events, 'i'), '');
    assert.ok(!text.includes('hunter2'));
    assert.equal(streamOf(events, 'o'), 'len 7\n');
    assert.equal(m.bytes.i, 8);

    const off = await h.user('carol', {
      principals: ['demo'],
      options: ['clear', 'extension:recording@neetodeploy.com=off'],
    });
    const before = (await store.listManifests({ app: 'demo' })).length;
    const r2 = await ssh(off.config, ['bastion', 'echo unrecorded']);
    assert.equal(r2.stdout.toString(), 'unrecorded\n', r2.stderr.toString());
    await new Promise((res) => setTimeout(res, 500));
    assert.equal((await store.listManifests({ app: 'demo' })).length, before);
  });
});
