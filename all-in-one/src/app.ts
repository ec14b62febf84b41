/**
 * The one place that wires the embedded default together: the local platform (which runs the
 * apps), the keys-service (HTTPS API, sign-in pages, CA) and the bastion (SSH), sharing one data
 * dir. `start()` does the first-start setup, listens, and returns what a newcomer needs to know;
 * `stop()` drains the bastion briefly, then closes the keys-service and the platform (whose close
 * stops every app process and console).
 */
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import type { Bastion } from '@neetodeploy/bastion';
import { createKeysService, parseKeysServiceConfig } from '@neetodeploy/keys-service';
import type { KeysService } from '@neetodeploy/keys-service';
import { createLocalPlatform, DEMO_APP } from '@neetodeploy/platform';
import { encodePublicKeyText } from '@neetodeploy/sshcert';
import type { LocalPlatform } from '@neetodeploy/platform';
import type { AllInOneConfig } from './config.js';
import { EVENTS } from './events.js';
import { ensureFirstAccount, ensurePolicyFile } from './first-start.js';
import type { FirstAccount } from './first-start.js';
import { ensureHostKey, writeHostCertificate } from './host-identity.js';
import { ensureRecordingKey } from './recording-key.js';
import { layoutOf } from './layout.js';
import type { Layout } from './layout.js';

export interface AllInOneDeps {
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** The node binary the demo app runs with (default: this process's). */
  readonly nodePath?: string;
}

export interface AllInOneAddress {
  /** `https://127.0.0.1:PORT` */
  readonly apiUrl: string;
  readonly sshHost: string;
  readonly sshPort: number;
  /** The PEM file clients trust for the API (`neetodeploy login --ca-file`). */
  readonly caFile: string;
  readonly dataDir: string;
  readonly layout: Layout;
  /** The account made on this start, if the data dir had none. */
  readonly firstAccount?: FirstAccount;
  /** The app made for newcomers (when it exists). */
  readonly demoApp?: string;
  /** Emails of the local accounts. */
  readonly accounts: readonly string[];
}

export interface AllInOne {
  start(): Promise<AllInOneAddress>;
  /** Idempotent; safe after a failed start. */
  stop(): Promise<void>;
}

/** A free port on 127.0.0.1, for `--ssh-port 0`: the API must know it before the bastion listens. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const HOST = '127.0.0.1';

export function createAllInOne(config: AllInOneConfig, deps: AllInOneDeps): AllInOne {
  const logger = deps.logger;
  const clock = deps.clock ?? (() => new Date());
  const layout = layoutOf(config.dataDir);
  let platform: LocalPlatform | undefined;
  let keys: KeysService | undefined;
  let bastion: Bastion | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ event: EVENTS.stopping }, 'stopping');
      const failures: unknown[] = [];
      const attempt = async (what: string, work: () => Promise<void>): Promise<void> => {
        try {
          await work();
        } catch (err) {
          failures.push(err);
          logger.error({ event: EVENTS.stopFailed, part: what, err }, `cannot stop ${what}`);
        }
      };
      // Order: no new SSH sessions, then no new API calls, then the apps and consoles go.
      if (bastion) {
        const b = bastion;
        await attempt('bastion', () => b.drain());
      }
      if (keys) {
        const k = keys;
        await attempt('keys-service', () => k.stop());
      }
      if (platform) {
        const p = platform;
        await attempt('platform', () => p.close());
      }
      logger.info({ event: EVENTS.stopped }, 'stopped');
      if (failures.length > 0) {
        throw new AggregateError(failures, 'some parts did not stop cleanly');
      }
    })();
    return stopping;
  };

  const start = async (): Promise<AllInOneAddress> => {
    if (platform) throw new Error('the all-in-one is already started');
    fs.mkdirSync(layout.dataDir, { recursive: true, mode: 0o700 });
    try {
      // First: it claims the data dir, so a second server on it fails before touching anything.
      platform = await createLocalPlatform(
        { dataDir: layout.dataDir, runProcesses: true, createDemoApp: true },
        { logger, ...(deps.nodePath ? { nodePath: deps.nodePath } : {}) },
      );

      const hostKey = ensureHostKey(layout.hostKeyFile);
      if (hostKey.created) {
        logger.info({ event: EVENTS.hostKeyCreated, file: layout.hostKeyFile }, 'host key created');
      }
      const hostKeyLine = encodePublicKeyText(hostKey.key.publicKey);
      if (ensureRecordingKey(layout.recordingKeyFile).created) {
        logger.info(
          { event: EVENTS.recordingKeyCreated, file: layout.recordingKeyFile },
          'recording key created',
        );
      }

      // Certificates tell clients where the bastion is, so its port is fixed before the API starts.
      const sshPort = config.sshPort === 0 ? await freePort(HOST) : config.sshPort;
      const keysConfig = parseKeysServiceConfig(
        {
          dataDir: layout.dataDir,
          listen: { host: HOST, port: config.apiPort },
          tls: { mode: 'self-signed' },
          policyFile: layout.policyFile,
          logLevel: config.logLevel,
          // A local server has no load to shed: a short interval makes `login` feel instant.
          loginSessions: { ttlSeconds: 600, intervalSeconds: 2 },
          ca: { userKeyFile: layout.userCaKeyFile, hostKeyFile: layout.hostCaKeyFile },
          // Pinned as well as certified: ssh2 clients (`neetodeploy exec`) get the plain key,
          // which only a pin can vouch for; stock ssh checks the pin under its HostKeyAlias.
          bastion: { host: HOST, port: sshPort, pinnedHostKey: hostKeyLine },
          recording: {
            store: { kind: 'file', dir: layout.recordingsDir },
            publicKeyFile: layout.recordingKeyFile,
          },
        },
        layout.dataDir,
      );
      const policyWritten = ensurePolicyFile(layout.policyFile, config.admin.email);
      if (policyWritten) {
        logger.info({ event: EVENTS.policyCreated, file: layout.policyFile }, 'policy created');
      }
      // Makes the CA keys on first start (0600) with the keys-service's own code.
      keys = createKeysService(keysConfig, {
        logger,
        platform,
        clock,
      });
      writeHostCertificate(
        layout.hostCertificateFile,
        hostKey.key,
        keys.authorities.hostSigningKey,
        clock(),
      );

      const api = await keys.start();
      const firstAccount = await ensureFirstAccount(keys.context.store, config.admin);
      if (firstAccount) {
        logger.info({ event: EVENTS.accountCreated, user: firstAccount.email }, 'account created');
      }
      const caFile = api.caFile ?? layout.tlsCaFile;

      bastion = createBastion(
        parseBastionConfig({
          listen: { host: HOST, port: sshPort },
          name: 'localhost',
          hostKeys: [
            { privateKeyFile: layout.hostKeyFile, certificateFile: layout.hostCertificateFile },
          ],
          trust: {
            keysService: { url: api.url, caFile, pollIntervalMs: config.trustPollMs },
          },
          drain: { timeoutMs: Math.max(1, config.drainTimeoutMs) },
          recording: {
            keyFile: layout.recordingKeyFile,
            store: { kind: 'file', dir: layout.recordingsDir },
          },
          platform: { type: 'local', dataDir: layout.dataDir },
          log: { level: config.logLevel },
        }),
        { platform, logger, now: clock },
      );
      const ssh = await bastion.start();

      const apps = await platform.listApps();
      const accounts = (await keys.context.store.users.list()).map((u) => u.email);
      const address: AllInOneAddress = {
        apiUrl: api.url,
        sshHost: HOST,
        sshPort: ssh.ssh.port,
        caFile,
        dataDir: layout.dataDir,
        layout,
        accounts,
        ...(firstAccount ? { firstAccount } : {}),
        ...(apps.some((a) => a.name === DEMO_APP) ? { demoApp: DEMO_APP } : {}),
      };
      logger.info(
        {
          event: EVENTS.started,
          api: address.apiUrl,
          ssh: `${address.sshHost}:${address.sshPort}`,
          dataDir: layout.dataDir,
        },
        'all-in-one started',
      );
      return address;
    } catch (err) {
      await stop().catch(() => undefined);
      throw err;
    }
  };

  return { start, stop };
}
