/**
 * `bastion.pinnedHostKeyFile`: the bastion's host key pinned from an OpenSSH `.pub` file (the
 * Helm chart mounts the host-key Secret's public item), so `neetodeploy exec` (ssh2, which
 * cannot verify host certificates) trusts the bastion.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parsePublicKeyText, signCertificate } from '@neetodeploy/sshcert';
import { ALICE, startKeysService } from '../support/keys-service.js';
import type { TestKeysService } from '../support/keys-service.js';
import {
  ConfigError,
  loadKeysServiceConfigFile,
  parseKeysServiceConfig,
} from '../support/keys-service-internals.js';
import { makeKey, signCert, tempDir } from '../support/ssh-client.js';
import type { KeyPair } from '../support/ssh-client.js';

/** Asserts a config error naming the option and the file, with `why` in its message. */
function assertConfigError(fn: () => unknown, file: string, why: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof ConfigError, `${err.name}: ${err.message}`);
    assert.match(err.message, /bastion\.pinnedHostKeyFile/);
    assert.ok(err.message.includes(file), err.message);
    assert.match(err.message, why);
    return true;
  });
}

describe('keys-service bastion.pinnedHostKeyFile', function () {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  /** An OpenSSH host key made by ssh-keygen, as on a real bastion. */
  let hostKey: KeyPair;
  let pubFile: string;
  let ks: TestKeysService | undefined;

  before(async function () {
    tmp = await tempDir('keys-pinned-');
    hostKey = await makeKey(tmp.dir, 'ssh_host_ed25519_key');
    pubFile = `${hostKey.file}.pub`;
  });

  after(async function () {
    await ks?.dispose();
    await tmp?.cleanup();
  });

  it('hands out both the @cert-authority line and the key line read from the file', async function () {
    ks = await startKeysService({
      config: { bastion: { host: 'bastion.example', port: 2200, pinnedHostKeyFile: pubFile } },
    });
    const res = await ks.client.request('/api/v1/certificates', {
      token: await ks.token(ALICE),
      body: { app: 'demo', public_key: (await makeKey(tmp.dir, 'client')).publicKey },
    });
    assert.equal(res.status, 201, res.text);
    const text = res.json.bastion.known_hosts as string;
    assert.deepEqual(text.split('\n'), [
      `@cert-authority bastion.example,*.neetodeploy ${ks.service.authorities.hostCaKeyLine}`,
      `[bastion.example]:2200 ${fs.readFileSync(pubFile, 'utf8').trim()}`,
    ]);

    // What `neetodeploy exec` does with it: the plain host key is trusted, a stranger's is not.
    const { checkHostKey, parseKnownHosts } = await import('../../cli/src/known-hosts.js');
    const entries = parseKnownHosts(text);
    const target = { host: 'bastion.example', port: 2200, now: new Date() };
    const plain = parsePublicKeyText(hostKey.publicKey);
    assert.deepEqual(checkHostKey(plain.blob, entries, target), { ok: true });
    const stranger = parsePublicKeyText((await makeKey(tmp.dir, 'stranger')).publicKey);
    assert.equal(checkHostKey(stranger.blob, entries, target).ok, false);
    // Stock ssh's host certificate still verifies through the @cert-authority line.
    const hostCert = signCertificate(
      {
        publicKey: plain,
        certType: 'host',
        keyId: 'bastion',
        principals: ['bastion.example'],
        ttlSeconds: 600,
      },
      ks.service.authorities.hostSigningKey,
    );
    assert.deepEqual(checkHostKey(hostCert.blob, entries, target), { ok: true });
  });

  it('resolves a relative path against the config file, and the parsed config parses again', function () {
    const dir = path.join(tmp.dir, 'conf');
    fs.mkdirSync(path.join(dir, 'keys'), { recursive: true });
    fs.copyFileSync(pubFile, path.join(dir, 'keys', 'host.pub'));
    const configFile = path.join(dir, 'keys-service.yaml');
    fs.writeFileSync(
      configFile,
      'keysService:\n  dataDir: ./data\n  bastion: { pinnedHostKeyFile: keys/host.pub }\n',
    );
    const config = loadKeysServiceConfigFile(configFile);
    assert.equal(config.bastion.pinnedHostKey, hostKey.publicKey);
    assert.deepEqual(parseKeysServiceConfig(config), config);
  });

  it('refuses a missing file', function () {
    const missing = path.join(tmp.dir, 'no-such-key.pub');
    assertConfigError(
      () => parseKeysServiceConfig({ dataDir: tmp.dir, bastion: { pinnedHostKeyFile: missing } }),
      missing,
      /cannot read .*ENOENT/,
    );
  });

  it('refuses a file that is not one OpenSSH public key', async function () {
    const hostCa = await makeKey(tmp.dir, 'host_ca');
    const written = (name: string, content: string): string => {
      const file = path.join(tmp.dir, name);
      fs.writeFileSync(file, content);
      return file;
    };
    const files = [
      written('garbage.pub', 'hello world\n'),
      written('empty.pub', ''),
      written('bad-base64.pub', 'ssh-ed25519 AAAA!!!! host\n'),
      // Each line would become a known_hosts line of its own, without the host pattern.
      written('two-keys.pub', `${hostKey.publicKey}\n${hostCa.publicKey}\n`),
      // Pointing at the private key instead of its `.pub` is the likely slip.
      hostKey.file,
      // A host certificate is what stock ssh verifies, not a key to pin.
      await signCert(hostCa, hostKey, {
        keyId: 'bastion',
        principals: ['bastion.example'],
        host: true,
        out: path.join(tmp.dir, 'host-cert.pub'),
      }),
    ];
    for (const file of files) {
      assertConfigError(
        () => parseKeysServiceConfig({ dataDir: tmp.dir, bastion: { pinnedHostKeyFile: file } }),
        file,
        /is not an OpenSSH public key/,
      );
    }
  });

  it('checks an inline pinnedHostKey the same way: one OpenSSH public key line', async function () {
    const hostCa = await makeKey(tmp.dir, 'inline_ca');
    const ok = parseKeysServiceConfig({
      dataDir: tmp.dir,
      bastion: { pinnedHostKey: `  ${hostKey.publicKey}\n` },
    });
    assert.equal(ok.bastion.pinnedHostKey, hostKey.publicKey.trim());
    for (const pinnedHostKey of [
      'hello world',
      `${hostKey.publicKey.trim()}\n${hostCa.publicKey.trim()}`,
    ]) {
      assert.throws(
        () => parseKeysServiceConfig({ dataDir: tmp.dir, bastion: { pinnedHostKey } }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /bastion\.pinnedHostKey is not an OpenSSH public key/);
          return true;
        },
      );
    }
  });

  it('refuses pinnedHostKey and pinnedHostKeyFile together, at service start too', async function () {
    const both = { pinnedHostKey: hostKey.publicKey, pinnedHostKeyFile: pubFile };
    assert.throws(
      () => parseKeysServiceConfig({ dataDir: tmp.dir, bastion: both }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /bastion\.pinnedHostKeyFile: set pinnedHostKey or pinnedHostKeyFile, not both/,
        );
        return true;
      },
    );
    const dataDir = path.join(tmp.dir, 'both');
    fs.mkdirSync(dataDir);
    await assert.rejects(startKeysService({ dataDir, config: { bastion: both } }), ConfigError);
  });
});
