import type { Command } from 'commander';
import { runCaInit } from './ca-init.js';
import type { AdminDeps } from './deps.js';
import { runKrlCheck, runKrlCreate } from './krl.js';
import { runSign } from './sign.js';
import { runVerify } from './verify.js';

/** Commander collector for repeatable options. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Registers the offline admin commands: ca init, sign, verify, krl create, krl check. */
export function registerAdminCommands(program: Command, deps: AdminDeps): void {
  const ca = program.command('ca').description('certificate authority keys');
  ca.command('init')
    .description('write a user CA and a host CA key pair (private keys 0600); never overwrites')
    .requiredOption('--out <dir>', 'directory for user_ca, user_ca.pub, host_ca, host_ca.pub')
    .option('--type <type>', 'ed25519, ecdsa (nistp256) or rsa (3072 bits)', 'ed25519')
    .action((opts: { out: string; type: string }) => runCaInit(opts, deps));

  program
    .command('sign')
    .description('sign a public key, writing <key>-cert.pub beside it (like ssh-keygen -s)')
    .requiredOption('--ca <file>', 'CA private key (OpenSSH or PEM, unencrypted)')
    .requiredOption('--key <file>', 'public key to certify (e.g. id_ed25519.pub)')
    .requiredOption(
      '--principals <list>',
      'comma-separated principals (user names, app names, host names)',
    )
    .requiredOption(
      '--ttl <duration>',
      'validity from now: 30s, 5m, 1h, 1d (backdated 60s for clock skew)',
    )
    .requiredOption('--id <keyId>', 'key id written into the certificate')
    .option('--host', 'make a host certificate instead of a user certificate')
    .option('--serial <n>', 'serial number (default: random 63-bit)')
    .option(
      '--extension <name[=value]>',
      'grant an extension (repeatable); without any, user certificates get what ssh-keygen -s grants: ' +
        'permit-X11-forwarding, permit-agent-forwarding, permit-port-forwarding, permit-pty, permit-user-rc',
      collect,
      [],
    )
    .option(
      '--critical <name=value>',
      'critical option, e.g. force-command=CMD, source-address=CIDR,...',
      collect,
      [],
    )
    .action(
      (opts: {
        ca: string;
        key: string;
        principals: string;
        ttl: string;
        id: string;
        host?: boolean;
        serial?: string;
        extension: string[];
        critical: string[];
      }) => runSign(opts, deps),
    );

  program
    .command('verify')
    .description(
      'verify a certificate against CA public key(s) now: prints the identity (exit 0) or the reason (exit 1)',
    )
    .requiredOption('--ca-pub <file>', 'trusted CA public key(s), one per line')
    .requiredOption('--cert <file>', 'certificate (*-cert.pub)')
    .option('--principal <name>', 'require this principal')
    .option('--host', 'expect a host certificate')
    .option('--source-address <ip>', 'client address checked against a source-address option')
    .option('--json', 'print JSON')
    .action(
      (opts: {
        caPub: string;
        cert: string;
        principal?: string;
        host?: boolean;
        sourceAddress?: string;
        json?: boolean;
      }) => runVerify(opts, deps),
    );

  const krl = program.command('krl').description('key revocation lists (OpenSSH KRL format)');
  krl
    .command('create')
    .description('write a KRL revoking certificates by serial and/or key id')
    .requiredOption('--out <file>', 'KRL file to write')
    .option('--ca-pub <file>', 'CA public key the serials belong to (default: key ids of any CA)')
    .option('--serial <n[-m]>', 'revoke a serial or an inclusive range (repeatable)', collect, [])
    .option('--key-id <id>', 'revoke every certificate with this key id (repeatable)', collect, [])
    .option(
      '--revoke-key <file>',
      'revoke a public key outright, with every certificate of it (repeatable)',
      collect,
      [],
    )
    .option('--comment <text>', 'KRL comment')
    .action(
      (opts: {
        out: string;
        caPub?: string;
        serial: string[];
        keyId: string[];
        revokeKey: string[];
        comment?: string;
      }) => runKrlCreate(opts, deps),
    );
  krl
    .command('check')
    .description('check a certificate against a KRL: exit 0 not revoked, 1 revoked')
    .requiredOption('--krl <file>', 'KRL file')
    .requiredOption('--cert <file>', 'certificate (*-cert.pub)')
    .action((opts: { krl: string; cert: string }) => runKrlCheck(opts, deps));
}
