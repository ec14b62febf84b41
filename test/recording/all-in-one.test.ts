/**
 * The all-in-one records out of the box: its first start makes the recording key beside the CA
 * keys (0600, outside `recordings/`), a session through its bastion lands in
 * `<data dir>/recordings`, and `neetodeploy-keys recordings verify ID --data-dir DIR` accepts it
 * with no other flag.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createAllInOne, allInOneConfigSchema } from '@neetodeploy/all-in-one';
import type { AllInOne, AllInOneAddress } from '@neetodeploy/all-in-one';
import { FileRecordingStore } from '@neetodeploy/recording';
import { runRecordingsVerify } from '../../keys-service/src/commands/index.js';
import { run } from '../support/openssh.js';
import { makeKey, tempDir } from '../support/ssh-client.js';
import { nextRecording, replay, streamOf } from './support.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

describe('recording: the all-in-one', function () {
  this.timeout(90_000);
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let server: AllInOne;
  let address: AllInOneAddress;

  before(async () => {
    tmp = await tempDir();
    server = createAllInOne(
      allInOneConfigSchema.parse({
        dataDir: path.join(tmp.dir, 'data'),
        apiPort: 0,
        sshPort: 0,
        admin: { email: 'admin@example.com', password: 'a long enough password' },
        logTo: 'stderr',
        logLevel: 'silent',
      }),
      { logger: pino({ level: 'silent' }) },
    );
    address = await server.start();
  });
  after(async () => {
    await server?.stop();
    await tmp?.cleanup();
  });

  it('makes the recording key outside the recordings folder, private', () => {
    const { recordingKeyFile, recordingsDir } = address.layout;
    assert.equal(fs.statSync(recordingKeyFile).mode & 0o777, 0o600);
    assert.ok(!recordingKeyFile.startsWith(recordingsDir + path.sep));
    assert.match(fs.readFileSync(recordingKeyFile, 'utf8'), /BEGIN PRIVATE KEY/);
  });

  it('records a session that `recordings verify --data-dir` accepts', async () => {
    // A user certificate from the all-in-one's own user CA, as the keys-service issues them.
    const key = await makeKey(tmp.dir, 'id_user');
    const signed = await run('ssh-keygen', [
      ...['-s', address.layout.userCaKeyFile, '-I', 'admin@example.com:req-aio', '-n', 'demo'],
      ...['-V', '-1m:+10m', '-O', 'clear', `${key.file}.pub`],
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    const r = await run(
      'ssh',
      [
        ...[
          '-F',
          '/dev/null',
          '-i',
          key.file,
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'IdentityAgent=none',
        ],
        ...[
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'BatchMode=yes',
        ],
        ...['-p', String(address.sshPort), 'demo@127.0.0.1', 'echo recorded-here; exit 2'],
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 2, r.stderr);
    const store = new FileRecordingStore(address.layout.recordingsDir);
    const m = await nextRecording(store, 'demo', new Set(), 20_000);
    assert.equal(m.session.user, 'admin@example.com');
    const { events } = await replay(store, m.id);
    assert.equal(streamOf(events, 'o'), 'recorded-here\n');

    const stdout = new Sink();
    const io = { stdout, stderr: new Sink(), stdin: process.stdin };
    await runRecordingsVerify(m.id, { dataDir: address.dataDir }, io);
    assert.match(stdout.text, /^ok\n/);
    assert.match(stdout.text, /exit 2/);
  });
});
