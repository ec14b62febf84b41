/**
 * The local platform's config store: limits, file modes, values never logged, and no lost update
 * between processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import {
  BadRequest,
  LimitExceeded,
  createLocalPlatform,
  type LocalPlatform,
} from '@neetodeploy/platform';
import { SOURCE_NODE_ARGS } from '../support/paths.js';
import { tempDataDir, useLocalPlatforms, writeApp } from './local-harness.js';

describe('local platform', function () {
  this.timeout(20_000);
  const { dispose, track } = useLocalPlatforms();

  describe('config vars', () => {
    const dataDir = tempDataDir();
    let platform: LocalPlatform;
    let logged = '';
    after(async () => {
      await platform?.close();
      await dispose(dataDir);
    });

    before(async () => {
      writeApp(dataDir, 'cfg', 'web: echo "secret is $SECRET_TOKEN"; exec sleep 1000\n');
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logged += chunk.toString();
          callback();
        },
      });
      platform = await createLocalPlatform(
        {
          dataDir,
          runProcesses: false,
          createDemoApp: false,
        },
        { logger: pino({ level: 'trace' }, sink) },
      );
      track(platform);
    });

    it('bounds names and values', async () => {
      await assert.rejects(
        platform.updateConfigVars('cfg', { set: { BIG: 'x'.repeat(32 * 1024 + 1) } }),
        LimitExceeded,
      );
      const nearly = 'y'.repeat(32 * 1024);
      const set: Record<string, string> = {};
      for (let i = 0; i < 8; i++) set[`PART_${i}`] = nearly;
      await assert.rejects(platform.updateConfigVars('cfg', { set }), LimitExceeded);
      await assert.rejects(platform.updateConfigVars('cfg', { set: { NUL: 'a\0b' } }), BadRequest);
      await assert.rejects(
        platform.updateConfigVars('cfg', { set: { BOTH: '1' }, unset: ['BOTH'] }),
        BadRequest,
      );
      await assert.rejects(
        platform.updateConfigVars('cfg', { set: { ['A'.repeat(257)]: '1' } }),
        BadRequest,
      );
      assert.deepEqual((await platform.getConfigVars('cfg')).vars, {});
    });

    it('stores values 0600 and never logs them', async () => {
      const secret = `s3cr3t-${Date.now()}`;
      await platform.updateConfigVars('cfg', { set: { SECRET_TOKEN: secret } });
      const file = path.join(dataDir, 'config-vars', 'cfg.json');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.match(logged, /SECRET_TOKEN/);
      assert.doesNotMatch(logged, new RegExp(secret));
      const api = fs.readFileSync(path.join(dataDir, 'logs', 'cfg', 'api.log'), 'utf8');
      assert.match(api, /Set SECRET_TOKEN config vars/);
      assert.doesNotMatch(api, new RegExp(secret));
      // No temp files or locks left behind.
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['cfg.json']);
    });

    it('keeps every update made concurrently by separate processes', async function () {
      this.timeout(30_000);
      const writer = path.join(import.meta.dirname, 'fixtures', 'config-writer.ts');
      const runWriter = (prefix: string) =>
        new Promise<number | null>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [...SOURCE_NODE_ARGS, writer, dataDir, 'cfg', prefix, '15'],
            { stdio: ['ignore', 'ignore', 'inherit'] },
          );
          child.once('error', reject);
          child.once('exit', resolve);
        });
      const ownUpdates = (async () => {
        for (let i = 0; i < 15; i++) {
          await platform.updateConfigVars('cfg', { set: { [`HERE_${i}`]: String(i) } });
        }
      })();
      const codes = await Promise.all([runWriter('ONE'), runWriter('TWO'), ownUpdates]);
      assert.deepEqual(codes.slice(0, 2), [0, 0]);
      const { vars } = await platform.getConfigVars('cfg');
      for (const prefix of ['ONE', 'TWO', 'HERE']) {
        for (let i = 0; i < 15; i++) assert.equal(vars[`${prefix}_${i}`], String(i));
      }
    });
  });
});
