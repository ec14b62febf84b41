/**
 * The bastion's configuration: one zod schema with defaults, validated once at boot. Paths are
 * resolved against the config file's folder by {@link loadConfigFile}; everything below `main.ts`
 * receives a {@link BastionConfig}, never `process.env`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import * as z from 'zod';
import { recordingStoreConfigSchema } from '@neetodeploy/contract';
import { platformConfigSchema, resolveKubernetesPaths } from '@neetodeploy/platform';
import { matchSourceAddress } from '@neetodeploy/sshcert';

const port = z.number().int().min(0).max(65535);

// Any name: a session's user has a shell in that console already, so a variable they send gives
// them nothing they could not `export` (`neetodeploy exec -e KEY=VALUE` relies on it). Narrow it
// (OpenSSH's AcceptEnv style, e.g. ['LANG', 'LC_*']) where consoles must start from a known env.
const DEFAULT_ENV_ALLOW = ['*'];
const DEFAULT_SUBSYSTEMS: Record<string, string> = {
  sftp:
    'for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/libexec/sftp-server /usr/lib/ssh/sftp-server; ' +
    'do [ -x "$p" ] && exec "$p"; done; echo "neetodeploy: this console has no sftp-server" >&2; exit 127',
};
const ms = z.number().int().positive();

const hostKeySchema = z.strictObject({
  /** OpenSSH or PEM private key file (unencrypted). */
  privateKeyFile: z.string().min(1),
  /** `*-cert.pub` signed by the host CA for this key; served beside the plain key. */
  certificateFile: z.string().min(1).optional(),
});

const staticTrustSchema = z.strictObject({
  /** Files with one or more `ssh-... AAAA...` user CA lines (several during rotation). */
  userCaKeyFiles: z.array(z.string().min(1)).min(1),
  /** Binary KRL (PROTOCOL.krl), optional. */
  krlFile: z.string().min(1).optional(),
  /** JSON object `{ "email": unixSeconds }` of per-user "not before" times, optional. */
  notBeforeFile: z.string().min(1).optional(),
  /** Files are re-read this often; a file that fails to parse keeps the last good state. */
  reloadIntervalMs: ms.default(10_000),
});

const keysServiceTrustSchema = z.strictObject({
  /** Base URL of the keys-service; `GET <url>/api/v1/ca` is polled with If-None-Match. */
  url: z.url(),
  pollIntervalMs: ms.default(15_000),
  timeoutMs: ms.default(5_000),
  /** PEM CA bundle to trust for the keys-service's TLS certificate (self-signed in dev). */
  caFile: z.string().min(1).optional(),
});

const trustSchema = z
  .object({
    static: staticTrustSchema.optional(),
    keysService: keysServiceTrustSchema.optional(),
  })
  .refine((t) => (t.static === undefined) !== (t.keysService === undefined), {
    message: 'set exactly one of trust.static or trust.keysService',
  });

const maxStartupsSchema = z
  .object({
    /** Unauthenticated connections before random early drop starts (OpenSSH: 10). */
    begin: z.number().int().positive().default(10),
    /** Drop probability in percent at `begin` (OpenSSH: 30). */
    rate: z.number().int().min(0).max(100).default(30),
    /** Unauthenticated connections at which every newcomer is refused (OpenSSH: 100). */
    full: z.number().int().positive().default(100),
  })
  .refine((m) => m.full >= m.begin, { message: 'full must be >= begin', path: ['full'] });

const seconds = z.number().int().min(0);
const penaltiesSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** A connection that did not finish key exchange or authentication in time. */
  graceExceeded: seconds.default(10),
  /** A connection that used up `maxAuthTries`. */
  authTries: seconds.default(5),
  /** A user name over 256 bytes: no client sends one by mistake. */
  badUsername: seconds.default(60),
  /** A source is refused once its penalty reaches this (OpenSSH `min:15`). */
  minSeconds: seconds.default(15),
  /** Cap of one source's penalty (OpenSSH `max:600`). */
  maxSeconds: seconds.default(600),
  /** Sources remembered at most; when full, the one whose penalty ends first is forgotten. */
  maxSources: z.number().int().positive().default(65_536),
  /** Addresses never penalised (a health checker, a NAT gateway of the office). */
  exempt: z.array(z.string().min(1)).default([]),
});

const limitsSchema = z.strictObject({
  maxStartups: maxStartupsSchema.default({ begin: 10, rate: 30, full: 100 }),
  /** Unauthenticated connections per source address (OpenSSH PerSourceMaxStartups). */
  perIpUnauthenticated: z.number().int().positive().default(10),
  /** All connections per source address. */
  perIpConnections: z.number().int().positive().default(100),
  /**
   * Key exchange must be done this long after accept: a banner-only client holds a pre-auth slot
   * for this long at most, not for the whole `authTimeoutMs`.
   */
  kexTimeoutMs: ms.default(10_000),
  /** LoginGraceTime. */
  authTimeoutMs: ms.default(30_000),
  /** MaxAuthTries: every authentication request counts, `none` included, checked on arrival. */
  maxAuthTries: z.number().int().positive().default(6),
  /** OpenSSH PerSourcePenalties: sources that keep misbehaving before auth are refused a while. */
  perSourcePenalties: penaltiesSchema.default(penaltiesSchema.parse({})),
  /**
   * End a connection when its certificate expires (Teleport's `disconnect_expired_cert`). Off by
   * default: certificates live minutes and a console usually outlives its certificate.
   */
  disconnectExpiredCertificates: z.boolean().default(false),
  maxChannelsPerConnection: z.number().int().positive().default(10),
  maxSessionsPerUser: z.number().int().positive().default(20),
  keepaliveIntervalMs: ms.default(15_000),
  keepaliveCountMax: z.number().int().min(0).default(3),
  /** A connection with no channel traffic for this long is closed. */
  idleTimeoutMs: ms.default(60 * 60_000),
  /** Every connection is closed after this long, whatever it does. */
  maxSessionMs: ms.default(12 * 60 * 60_000),
});

const portForwardingSchema = z.strictObject({
  /** Off: every forward is refused, whatever the certificate allows. */
  enabled: z.boolean().default(true),
  /**
   * Open forwards per connection. Each is a channel, but not counted in
   * `limits.maxChannelsPerConnection`: a browser alone opens several at once.
   */
  maxPerConnection: z.number().int().positive().default(64),
  /**
   * Open forwards per user across all their connections to this bastion process: without it,
   * one user multiplies `maxPerConnection` by opening more connections.
   */
  maxPerUser: z.number().int().positive().default(256),
  /** Reaching the port may take this long before the channel is refused. */
  connectTimeoutMs: ms.default(10_000),
});

/**
 * One address or CIDR network, in the syntax of a certificate's `source-address` entries; the
 * problem with `entry` (host bits set, a bad prefix length ...) or undefined when it is one.
 */
function addressOrNetworkProblem(entry: string): string | undefined {
  const expected = 'expected an IP address or a CIDR network such as 10.0.0.0/8';
  if (entry.length === 0 || entry.includes(',')) return expected;
  try {
    matchSourceAddress(entry, '0.0.0.0');
    return undefined;
  } catch (err) {
    return `${expected} (${(err as Error).message.replace(/^source-address: /, '')})`;
  }
}

/**
 * PROXY protocol (v2, and v1) from the load balancer in front of the bastion, so that limits,
 * penalties, `source-address` and audit see the client's address rather than the balancer's
 * (docs/operations.md, "Client addresses").
 */
const proxyProtocolSchema = z
  .strictObject({
    /** Off: the socket's peer is the client, and a header would be read as a broken banner. */
    enabled: z.boolean().default(false),
    /**
     * Addresses or CIDR networks of the balancers: a connection from one of them must start with
     * a header; a connection from anywhere else is refused, so no client can claim an address.
     */
    trustedSources: z
      .array(
        z.string().superRefine((entry, ctx) => {
          const problem = addressOrNetworkProblem(entry);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .default([]),
    /** A trusted source must have sent the whole header this long after connecting. */
    headerTimeoutMs: ms.default(5_000),
  })
  .refine((p) => !p.enabled || p.trustedSources.length > 0, {
    message: 'list the load balancer addresses or networks that send the header',
    path: ['trustedSources'],
  });

const MiB = 1024 * 1024;

/**
 * Session recording (docs/recordings.md). Omit to record nothing. What is recorded per app
 * (`full`, `output-only`, `off`) comes from the certificate, not from here.
 */
const recordingSchema = z.strictObject({
  /**
   * `best-effort`: a store failure is logged and counted and the session goes on unrecorded.
   * `required`: a session whose recording cannot start is refused, and one whose store fails
   * mid-way is ended.
   */
  mode: z.enum(['best-effort', 'required']).default('best-effort'),
  /**
   * Ed25519 private key (PEM) that signs manifests. Keep it outside the recordings' folder or
   * bucket: whoever can edit recordings must not be able to re-sign them.
   */
  keyFile: z.string().min(1),
  store: recordingStoreConfigSchema,
  /** Input and output bytes recorded per session; past it only SHA-256 hashes are kept. */
  maxSessionBytes: z
    .number()
    .int()
    .positive()
    .default(64 * MiB),
  /**
   * A chunk is cut at this size, or at a quarter of `spoolBytes` if that is smaller (1 MiB: a busy
   * session's store writes cost less CPU per byte in fewer, larger files; `bench/recorder.ts`) ...
   */
  chunkBytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** ... or this long after its first event, so a live session lands in the store. */
  flushIntervalMs: ms.default(2_000),
  /** Chunks held in memory per session while the store catches up; past it, data is hashed. */
  spoolBytes: z
    .number()
    .int()
    .min(1024)
    .default(8 * MiB),
});

export const bastionConfigSchema = z.strictObject({
  listen: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(2222),
      /** A property of the listener, as nginx's `listen ... proxy_protocol`. */
      proxyProtocol: proxyProtocolSchema.default(proxyProtocolSchema.parse({})),
    })
    .default({ host: '127.0.0.1', port: 2222, proxyProtocol: proxyProtocolSchema.parse({}) }),
  /** DNS name clients use for the bastion (host certificate principal). */
  name: z.string().min(1).default('localhost'),
  /** Jump targets are `<app><virtualHostSuffix>:22`. */
  virtualHostSuffix: z
    .string()
    .regex(/^\.[a-z0-9.-]+$/)
    .default('.neetodeploy'),
  hostKeys: z.array(hostKeySchema).min(1),
  trust: trustSchema,
  limits: limitsSchema.default(limitsSchema.parse({})),
  /** Key exchange choices beyond the default list (bastion/src/server/algorithms.ts). */
  algorithms: z
    .strictObject({
      /** Offer `mlkem768x25519-sha256` first (docs/post-quantum.md says when to turn it on). */
      mlkem768x25519: z.boolean().default(false),
      /** Also offer the NIST-curve exchanges, last. */
      nistKex: z.boolean().default(false),
    })
    .default({ mlkem768x25519: false, nistKex: false }),
  session: z
    .object({
      /** Client env variables passed to consoles; `*` at the end matches a prefix. */
      envAllow: z.array(z.string().min(1)).default(DEFAULT_ENV_ALLOW),
      /**
       * Subsystems served, as the command the console runs for each (`sh -c`); any other is
       * refused. The default maps `sftp` (used by OpenSSH's `scp` and `sftp`) to the console's
       * own sftp-server when it has one.
       */
      subsystems: z
        .record(z.string().regex(/^[a-z0-9@._-]+$/), z.string().min(1))
        .default(DEFAULT_SUBSYSTEMS),
    })
    .default({ envAllow: DEFAULT_ENV_ALLOW, subsystems: DEFAULT_SUBSYSTEMS }),
  /**
   * `direct-tcpip` to `localhost:PORT` inside a running process or pod (`ssh -L`,
   * `neetodeploy port-forward`), for certificates with `permit-port-forwarding`.
   */
  portForwarding: portForwardingSchema.default(portForwardingSchema.parse({})),
  recording: recordingSchema.optional(),
  drain: z.object({ timeoutMs: ms.default(30_000) }).default({ timeoutMs: 30_000 }),
  /** Prometheus metrics, /healthz and /readyz on their own port; omit to disable. */
  metrics: z
    .object({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9102) })
    .optional(),
  /**
   * Used by `main.ts` only, through `createPlatformFromConfig`: which platform to build.
   * `local`: apps under a data dir (embedded default); `kubernetes`: the platform's own config
   * plus `type`.
   */
  platform: platformConfigSchema.default({ type: 'local', dataDir: '.neetodeploy-data' }),
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

export type BastionConfig = z.infer<typeof bastionConfigSchema>;
export type BastionConfigInput = z.input<typeof bastionConfigSchema>;
export type LimitsConfig = BastionConfig['limits'];
export type ProxyProtocolConfig = BastionConfig['listen']['proxyProtocol'];
export type RecordingConfig = NonNullable<BastionConfig['recording']>;

/** Thrown for a config that does not validate; the message lists every error with its path. */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Validates an already-parsed object; error paths read like `bastion.limits.authTimeoutMs`. */
export function parseBastionConfig(input: unknown): BastionConfig {
  const result = bastionConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `bastion.${issue.path.map(String).join('.')}: ${issue.message}`,
    );
    throw new ConfigError(`invalid bastion config:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

/** Reads a YAML or JSON file, validates it and resolves file paths against its folder. */
export function loadConfigFile(file: string): BastionConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`, { cause: err });
  }
  const config = parseBastionConfig(raw);
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string): string => path.resolve(dir, p);
  const absOpt = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : abs(p);
  return {
    ...config,
    hostKeys: config.hostKeys.map((k) => ({
      privateKeyFile: abs(k.privateKeyFile),
      certificateFile: absOpt(k.certificateFile),
    })),
    trust: {
      static: config.trust.static && {
        ...config.trust.static,
        userCaKeyFiles: config.trust.static.userCaKeyFiles.map(abs),
        krlFile: absOpt(config.trust.static.krlFile),
        notBeforeFile: absOpt(config.trust.static.notBeforeFile),
      },
      keysService: config.trust.keysService && {
        ...config.trust.keysService,
        caFile: absOpt(config.trust.keysService.caFile),
      },
    },
    recording: config.recording && {
      ...config.recording,
      keyFile: abs(config.recording.keyFile),
      store:
        config.recording.store.kind === 'file'
          ? { ...config.recording.store, dir: abs(config.recording.store.dir) }
          : config.recording.store,
    },
    platform:
      config.platform.type === 'local'
        ? { ...config.platform, dataDir: abs(config.platform.dataDir) }
        : resolveKubernetesPaths(config.platform, abs),
  };
}
