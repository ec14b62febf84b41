/**
 * The app namespaces file the chart mounts (a ConfigMap volume): the kubernetes platform reads
 * it at start, follows the kubelet's updates and keeps its last good list through a bad one.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import {
  NamespaceFileError,
  createKubernetesPlatform,
  kubernetesPlatformConfigSchema,
} from '@neetodeploy/platform';
import type { KubeClient, KubernetesPlatform } from '@neetodeploy/platform';
import { loadConfigFile } from '@neetodeploy/bastion';
import { parseKeysServiceConfig } from '../support/keys-service-internals.js';
import { tempDir } from '../support/ssh-client.js';
import { writeConfigMapVolume } from './support.js';
import { waitUntil } from '../support/wait.js';

/** No call reaches it: listing is not exercised here, only which namespaces would be listed. */
const NO_CLIENT = { close: () => undefined } as unknown as KubeClient;

describe('app namespaces file of the kubernetes platform', function () {
  this.timeout(15_000);
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dir: string;
  const platforms: KubernetesPlatform[] = [];
  const warnings: string[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        warnings.push(chunk.toString());
        callback();
      },
    }),
  );

  beforeEach(async () => {
    tmp = await tempDir();
    dir = path.join(tmp.dir, 'app-namespaces');
    warnings.length = 0;
  });
  afterEach(async () => {
    await Promise.all(platforms.splice(0).map((p) => p.close()));
    await tmp.cleanup();
  });

  async function platform(file: string, pollMs = 60_000): Promise<KubernetesPlatform> {
    const p = await createKubernetesPlatform(
      {
        namespaces: {
          mode: 'per-app',
          prefix: 'app-',
          appNamespacesFile: file,
          appNamespacesPollMs: pollMs,
        },
        reaper: { intervalMs: 0 },
      },
      { logger, client: NO_CLIENT },
    );
    platforms.push(p);
    return p;
  }

  it('follows the kubelet’s updates and keeps the last good list through a bad one', async () => {
    writeConfigMapVolume(dir, { 'namespaces.json': '["app-shop","app-blog"]' });
    const p = await platform(path.join(dir, 'namespaces.json'));
    assert.deepEqual(p.appNamespaces(), ['app-blog', 'app-shop']);

    writeConfigMapVolume(dir, { 'namespaces.json': '["app-shop","app-blog","app-news"]' });
    await waitUntil(
      'the new namespace',
      () => p.appNamespaces()?.includes('app-news') === true,
      10_000,
      20,
    );

    writeConfigMapVolume(dir, { 'namespaces.json': '["app-shop", "Not A Namespace"]' });
    await waitUntil(
      'the warning',
      () => warnings.some((w) => w.includes('keeping the last good')),
      10_000,
      20,
    );
    assert.deepEqual(p.appNamespaces(), ['app-blog', 'app-news', 'app-shop']);

    writeConfigMapVolume(dir, { 'namespaces.json': '["app-shop"]' });
    await waitUntil('the removal', () => p.appNamespaces()?.length === 1, 10_000, 20);
  });

  it('polls for changes its folder watch cannot see', async () => {
    // The file links to one elsewhere: writing that one raises no event in the watched folder.
    const real = path.join(tmp.dir, 'elsewhere.json');
    fs.writeFileSync(real, '["app-shop"]');
    fs.mkdirSync(dir);
    fs.symlinkSync(real, path.join(dir, 'namespaces.json'));
    const p = await platform(path.join(dir, 'namespaces.json'), 100);
    fs.writeFileSync(real, '["app-shop","app-news"]');
    await waitUntil('the poll', () => p.appNamespaces()?.includes('app-news') === true, 2_000, 20);
  });

  it('refuses to start on a missing or invalid file, naming it', async () => {
    const missing = path.join(dir, 'namespaces.json');
    await assert.rejects(
      platform(missing),
      (e: Error) => e instanceof NamespaceFileError && e.message.includes(missing),
    );
    writeConfigMapVolume(dir, { 'namespaces.json': '{"app-shop": true}' });
    await assert.rejects(platform(missing), /expected a JSON array of namespace names/);
  });

  it('accepts a list set at runtime, and the list or the file but not both in the config', async () => {
    const p = await createKubernetesPlatform(
      { namespaces: { mode: 'per-app', appNamespaces: ['a'] }, reaper: { intervalMs: 0 } },
      { logger, client: NO_CLIENT },
    );
    platforms.push(p);
    p.setAppNamespaces(['a', 'b']);
    assert.deepEqual(p.appNamespaces(), ['a', 'b']);
    const both = kubernetesPlatformConfigSchema.safeParse({
      namespaces: { mode: 'per-app', appNamespaces: ['a'], appNamespacesFile: '/x' },
    });
    assert.equal(both.success, false);
  });

  it('is resolved against the config file’s folder by both servers, as every path', () => {
    const section = {
      type: 'kubernetes',
      namespaces: { mode: 'per-app', appNamespacesFile: 'ns/namespaces.json' },
    };
    const bastionFile = path.join(tmp.dir, 'bastion.json');
    fs.writeFileSync(
      bastionFile,
      JSON.stringify({
        hostKeys: [{ privateKeyFile: 'k' }],
        trust: { static: { userCaKeyFiles: ['ca.pub'] } },
        platform: section,
      }),
    );
    const fromBastion = loadConfigFile(bastionFile).platform;
    const fromKeys = parseKeysServiceConfig(
      { dataDir: 'data', platform: section },
      tmp.dir,
    ).platform;
    for (const p of [fromBastion, fromKeys]) {
      assert.equal(p?.type, 'kubernetes');
      assert.equal(
        p.type === 'kubernetes' &&
          p.namespaces.mode === 'per-app' &&
          p.namespaces.appNamespacesFile,
        path.join(tmp.dir, 'ns', 'namespaces.json'),
      );
    }
  });
});
