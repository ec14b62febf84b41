import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { certificateKey } from '../../cli/src/ssh/index.js';
import { ssh } from '../support/ssh-client.js';
import { startHarness, type Harness } from './harness.js';

/** An ssh2 client authenticating with a user certificate (patched ssh2, the CLI's key wrapper). */
async function connect(
  h: Harness,
  user: { key: { file: string }; cert: string },
  username = 'demo',
): Promise<ssh2.Client> {
  const key = certificateKey(
    await readFile(user.key.file, 'utf8'),
    await readFile(user.cert, 'utf8'),
  );
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c))
      .once('error', reject)
      .connect({
        host: '127.0.0.1',
        port: h.address.port,
        username,
        authHandler: [{ type: 'publickey', username, key } as ssh2.PublicKeyAuthMethod],
        hostVerifier: () => true,
      });
  });
}

type Collected = Promise<{ out: string; err: string; code?: number; signal?: string }>;

/** Runs `command`; listeners are attached in the callback so an early exit-status is never missed. */
function exec(
  c: ssh2.Client,
  command: string,
  opts: ssh2.ExecOptions = {},
): Promise<ClientChannel & { done: Collected }> {
  return new Promise((resolve, reject) =>
    c.exec(command, opts, (err, ch) =>
      err ? reject(err) : resolve(Object.assign(ch, { done: collect(ch) })),
    ),
  );
}

function collect(ch: ClientChannel): Collected {
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    let code: number | undefined;
    let signal: string | undefined;
    ch.on('data', (d: Buffer) => (out += d.toString()));
    ch.stderr.on('data', (d: Buffer) => (err += d.toString()));
    ch.on('exit', (c: number | null, s?: string) => {
      code = c ?? undefined;
      signal = s;
    });
    ch.on('close', () => resolve({ out, err, code, signal }));
  });
}

describe('bastion session channels and limits', function () {
  this.timeout(30_000);
  let h: Harness;

  before(async () => {
    h = await startHarness({
      config: () => ({
        limits: { maxChannelsPerConnection: 3, maxSessionsPerUser: 2 },
        session: { envAllow: ['LANG', 'LC_*', 'TERM'] },
      }),
    });
  });
  after(async () => {
    await h?.close();
  });

  it('passes allowed env only, when session.envAllow narrows it (LANG, LC_*, TERM)', async () => {
    const { config } = await h.user('env', {});
    const r = await ssh(config, [
      '-o',
      'SetEnv=LC_TIME=C.UTF-8 SECRET_TOKEN=x LANG=C',
      'bastion',
      'echo "[$LC_TIME][$SECRET_TOKEN][$LANG]"',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), '[C.UTF-8][][C]\n');
  });

  it('routes APP:PROCESS and APP:pod=NAME to the platform (nothing runs here: told so)', async () => {
    const { config } = await h.user('target', {});
    for (const user of ['demo:web', 'demo:pod=web.1']) {
      const r = await ssh(config, ['-l', user, 'bastion', 'echo SHOULD-NOT-RUN']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /neetodeploy: no running process/);
      assert.doesNotMatch(r.stdout.toString(), /SHOULD-NOT-RUN/);
    }
    // An unknown app named by a certificate that lists it: the platform's NotFound reaches the user.
    const ghost = await h.user('ghost', { principals: ['ghost'] });
    const g = await ssh(ghost.config, ['-l', 'ghost', 'bastion', 'true']);
    assert.equal(g.code, 1);
    assert.match(g.stderr, /neetodeploy: app ghost not found/);
  });

  it('delivers signals and reports exit-signal', async () => {
    const u = await h.user('sig', {});
    const c = await connect(h, u);
    try {
      const ch = await exec(
        c,
        'trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.05; done',
      );
      const done = ch.done;
      await new Promise<void>((r) => ch.once('data', () => r()));
      ch.signal('INT');
      const res = await done;
      assert.equal(res.code, 7);
      assert.match(res.out, /got-int/);

      const killed = (await exec(c, 'kill -TERM $$; sleep 5')).done;
      assert.equal((await killed).signal, 'SIGTERM');
    } finally {
      c.end();
    }
  });

  it('EOF from the client reaches the console (cat ends)', async () => {
    const u = await h.user('eof', {});
    const c = await connect(h, u);
    try {
      const ch = await exec(c, 'cat; echo after-eof');
      const done = ch.done;
      ch.end('some input\n');
      const res = await done;
      assert.equal(res.out, 'some input\nafter-eof\n');
      assert.equal(res.code, 0);
    } finally {
      c.end();
    }
  });

  it('caps channels per connection and sessions per user', async () => {
    const u = await h.user('caps', {});
    const c = await connect(h, u);
    try {
      // Long enough to still run under heavy load; closed explicitly below.
      const a = await exec(c, 'sleep 20');
      const b = await exec(c, 'sleep 20');
      // The third session of this user (limit 2) is told why.
      const third = await (await exec(c, 'echo no')).done;
      assert.equal(third.code, 1, JSON.stringify(third));
      assert.match(third.err, /too many open sessions for caps@example.com \(limit 2\)/);
      // A fourth channel while three are open (limit 3) is refused outright... once the third closed,
      // two are open: open two more quickly to hit the channel cap.
      const d = exec(c, 'sleep 20');
      const e = exec(c, 'sleep 20');
      const results = await Promise.allSettled([d, e]);
      assert.ok(
        results.some((r) => r.status === 'rejected'),
        'a channel beyond the cap must be refused',
      );
      for (const r of results) if (r.status === 'fulfilled') r.value.close();
      a.close();
      b.close();
      await Promise.all([a.done, b.done]);
      const text = await h.bastion.metrics.registry.metrics();
      assert.match(text, /limit_rejections_total\{limit="sessions-per-user"\} [1-9]/);
      assert.match(text, /limit_rejections_total\{limit="channels-per-connection"\} [1-9]/);
    } finally {
      c.end();
    }
  });

  it('refuses pty without permit-pty in the certificate', async () => {
    const { config } = await h.user('nopty', { options: ['clear'] });
    // OpenSSH gives up on a forced (-tt) pty it cannot get; the point is that none was made.
    const r = await ssh(config, ['-tt', 'bastion', 'tty']);
    assert.match(r.stderr, /PTY allocation request failed/);
    assert.doesNotMatch(r.stdout.toString(), /\/dev\/pts/);
    const ok = await h.user('withpty', {});
    const t = await ssh(ok.config, ['-tt', 'bastion', 'tty']);
    assert.match(t.stdout.toString(), /\/dev\/pts\/\d+/, t.stderr);
  });

  it('closes idle connections and connections past the maximum length', async () => {
    const g = await startHarness({
      config: () => ({ limits: { idleTimeoutMs: 300, maxSessionMs: 60_000 } }),
    });
    try {
      const u = await g.user('idle', {});
      const c = await connect(g, u);
      const t0 = Date.now();
      await new Promise<void>((r) => c.once('close', () => r()));
      const waited = Date.now() - t0;
      assert.ok(waited >= 250 && waited < 3000, `closed after ${waited} ms`);
    } finally {
      await g.close();
    }
    const m = await startHarness({ config: () => ({ limits: { maxSessionMs: 400 } }) });
    try {
      const { config } = await m.user('long', {});
      const r = await ssh(config, ['bastion', 'sleep 10'], { timeoutMs: 5000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /maximum session length reached/);
    } finally {
      await m.close();
    }
  });
});

describe('bastion channel budget against a client that repeats CHANNEL_CLOSE', function () {
  this.timeout(30_000);
  let h: Harness;

  before(async () => {
    h = await startHarness({
      config: () => ({ limits: { maxChannelsPerConnection: 2, maxSessionsPerUser: 10 } }),
    });
  });
  after(async () => {
    await h?.close();
  });

  it('a session a client closes again and again gives its channel slot back once', async () => {
    const u = await h.user('reclose', {});
    const c = await connect(h, u);
    const opened: ClientChannel[] = [];
    try {
      // A session whose only request was refused never starts: ssh2 keeps it open and emits
      // `close` on it for every CHANNEL_CLOSE the client sends.
      const refused = await new Promise<Error | undefined>((resolve) =>
        c.subsys('no-such-subsystem', (err) => resolve(err)),
      );
      assert.ok(refused instanceof Error, 'an unknown subsystem is refused');
      const internals = c as unknown as {
        _protocol: { channelClose(id: number): void };
        _chanMgr: { _channels: Record<string, { type?: string; outgoing?: { id: number } }> };
      };
      const stuck = Object.values(internals._chanMgr._channels).find((ch) => ch.type === 'session');
      assert.ok(stuck?.outgoing, 'the refused session is still open');
      let refusedOpens = 0;
      for (let i = 0; i < 6; i++) {
        internals._protocol.channelClose(stuck.outgoing.id);
        try {
          opened.push(await exec(c, 'sleep 20'));
        } catch {
          refusedOpens++;
        }
      }
      // The first close gives the stuck session's slot back; the repeats free nothing more.
      assert.equal(opened.length, 2, `${opened.length} channels open with a budget of 2`);
      assert.equal(refusedOpens, 4);
    } finally {
      for (const ch of opened) ch.close();
      c.end();
    }
  });
});
