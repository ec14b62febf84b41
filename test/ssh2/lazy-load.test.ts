/**
 * ssh2 loads its parts on first use (patches/ssh2: lib/index.js, lib/client.js,
 * lib/protocol/keyParser.js): a program that only connects as a client (the CLI's `exec`, which
 * starts cold on every run) no longer compiles and runs the server, the agents, the HTTP agents,
 * SFTP, key generation and bcrypt-pbkdf with tweetnacl. Each test runs in a fresh node, so that
 * nothing loaded by other tests hides what a cold require loads.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import ssh2 from 'ssh2';

/** Runs `script` (CommonJS) in a fresh node; returns what it printed as JSON. */
function fresh(script: string): unknown {
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }),
  ) as unknown;
}

const LOADED = `const loaded = () => Object.keys(require.cache)
  .map((f) => f.replace(/\\\\/g, '/'))
  .filter((f) => /node_modules\\/(ssh2|bcrypt-pbkdf|tweetnacl)\\//.test(f))
  .map((f) => f.replace(/.*node_modules\\//, ''));`;

const HEAVY = [
  'ssh2/lib/server.js',
  'ssh2/lib/agent.js',
  'ssh2/lib/http-agents.js',
  'ssh2/lib/protocol/SFTP.js',
  'ssh2/lib/keygen.js',
  'bcrypt-pbkdf/index.js',
];

describe('ssh2 patch: parts loaded on first use', function () {
  this.timeout(30_000);

  it('a client does not load the server, agents, SFTP, key generation or bcrypt', () => {
    const files = fresh(`${LOADED}
      const ssh2 = require('ssh2');
      new ssh2.Client();
      process.stdout.write(JSON.stringify(loaded()));`) as string[];
    assert.ok(files.includes('ssh2/lib/client.js'), files.join('\n'));
    for (const heavy of HEAVY) assert.ok(!files.includes(heavy), `${heavy} was loaded`);
  });

  it('every export is still there, the same objects as the modules that define them', () => {
    const same = fresh(`
      const ssh2 = require('ssh2');
      const lib = (f) => require('ssh2/lib/' + f);
      const agent = lib('agent.js');
      const sftp = lib('protocol/SFTP.js');
      const checks = {
        keys: Object.keys(ssh2).sort().join(','),
        utils: Object.keys(ssh2.utils).sort().join(','),
        sftp: Object.keys(ssh2.utils.sftp).sort().join(','),
        Client: ssh2.Client === lib('client.js'),
        Server: ssh2.Server === lib('server.js'),
        agents: ['AgentProtocol', 'BaseAgent', 'createAgent', 'CygwinAgent', 'OpenSSHAgent',
          'PageantAgent'].every((k) => ssh2[k] === agent[k]),
        http: ssh2.HTTPAgent === lib('http-agents.js').SSHTTPAgent
          && ssh2.HTTPSAgent === lib('http-agents.js').SSHTTPSAgent,
        parseKey: ssh2.utils.parseKey === lib('protocol/keyParser.js').parseKey,
        keygen: ssh2.utils.generateKeyPairSync === lib('keygen.js').generateKeyPairSync
          && ssh2.utils.generateKeyPair === lib('keygen.js').generateKeyPair,
        sftpUtils: ['flagsToString', 'OPEN_MODE', 'STATUS_CODE', 'stringToFlags']
          .every((k) => ssh2.utils.sftp[k] === sftp[k]),
      };
      process.stdout.write(JSON.stringify(checks));`);
    assert.deepEqual(same, {
      keys: 'AgentProtocol,BaseAgent,Client,CygwinAgent,HTTPAgent,HTTPSAgent,OpenSSHAgent,PageantAgent,Server,createAgent,utils',
      utils: 'generateKeyPair,generateKeyPairSync,parseKey,sftp',
      sftp: 'OPEN_MODE,STATUS_CODE,flagsToString,stringToFlags',
      Client: true,
      Server: true,
      agents: true,
      http: true,
      parseKey: true,
      keygen: true,
      sftpUtils: true,
    });
  });

  it('an encrypted OpenSSH key still parses (bcrypt-pbkdf loaded then)', () => {
    const { private: pem } = ssh2.utils.generateKeyPairSync('ed25519', {
      passphrase: 'secret',
      cipher: 'aes256-ctr',
      rounds: 2,
    });
    const result = fresh(`${LOADED}
      const ssh2 = require('ssh2');
      const pem = ${JSON.stringify(pem)};
      const before = loaded().includes('bcrypt-pbkdf/index.js');
      const key = ssh2.utils.parseKey(pem, 'secret');
      const wrong = ssh2.utils.parseKey(pem, 'not it');
      process.stdout.write(JSON.stringify({
        before,
        after: loaded().includes('bcrypt-pbkdf/index.js'),
        type: key instanceof Error ? key.message : key.type,
        wrong: wrong instanceof Error,
      }));`);
    assert.deepEqual(result, { before: false, after: true, type: 'ssh-ed25519', wrong: true });
  });
});
