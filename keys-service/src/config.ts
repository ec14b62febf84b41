/**
 * The keys-service configuration: one zod schema with defaults, validated once at boot. Code
 * below `main.ts` receives a {@link KeysServiceConfig}, never `process.env`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { BadRequest, platformConfigSchema, resolveKubernetesPaths } from '@neetodeploy/platform';
import { parsePublicKeyText } from '@neetodeploy/sshcert';
import { oidcConfigSchema } from './auth/oidc-config.js';
import { recordingConfigSchema, resolveRecordingConfig } from './http/api/sessions-config.js';

const DAY = 24 * 60 * 60;

const tlsSchema = z
  .discriminatedUnion('mode', [
    /** A local CA and server certificate for localhost/127.0.0.1, made on first start. */
    z.object({ mode: z.literal('self-signed') }).strict(),
    /** A real certificate (PEM files). */
    z.object({ mode: z.literal('files'), certFile: z.string(), keyFile: z.string() }).strict(),
    /** Plain HTTP behind a TLS-terminating proxy or ingress. */
    z.object({ mode: z.literal('none') }).strict(),
  ])
  .default({ mode: 'self-signed' });

export const keysServiceConfigSchema = z
  .object({
    /** State (SQLite, CA keys, TLS material) lives here. */
    dataDir: z.string().min(1),
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8443),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8443 }),
    /** Base URL users' browsers reach (verification_uri); default: the bound address. */
    publicUrl: z.url().optional(),
    tls: tlsSchema,
    /** Trust X-Forwarded-For from this many proxies (for client IPs behind an ingress). */
    trustProxyHops: z.number().int().min(0).max(10).default(0),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    /** YAML access policy; absent means nobody may do anything (deny by default). */
    policyFile: z.string().optional(),
    policyReloadDebounceMs: z.number().int().min(0).max(60_000).default(200),
    tokens: z
      .object({
        ttlSeconds: z
          .number()
          .int()
          .min(60)
          .max(365 * DAY)
          .default(30 * DAY),
      })
      .strict()
      .default({ ttlSeconds: 30 * DAY }),
    loginSessions: z
      .object({
        ttlSeconds: z.number().int().min(30).max(3600).default(600),
        intervalSeconds: z.number().int().min(1).max(60).default(5),
      })
      .strict()
      .default({ ttlSeconds: 600, intervalSeconds: 5 }),
    certificates: z
      .object({
        ttlSeconds: z.number().int().min(30).max(DAY).default(300),
        maxTtlSeconds: z
          .number()
          .int()
          .min(30)
          .max(7 * DAY)
          .default(3600),
        backdateSeconds: z.number().int().min(0).max(600).default(60),
      })
      .strict()
      .refine((c) => c.ttlSeconds <= c.maxTtlSeconds, {
        message: 'ttlSeconds must not exceed maxTtlSeconds',
        path: ['ttlSeconds'],
      })
      .default({ ttlSeconds: 300, maxTtlSeconds: 3600, backdateSeconds: 60 }),
    ca: z
      .object({
        /** OpenSSH private key of the user CA; default `<dataDir>/user_ca`, made if missing. */
        userKeyFile: z.string().optional(),
        /** Extra trusted user CA public keys (rotation: old or upcoming keys). */
        extraUserPublicKeys: z.array(z.string()).default([]),
        /** OpenSSH private key of the host CA; default `<dataDir>/host_ca`, made if missing. */
        hostKeyFile: z.string().optional(),
      })
      .strict()
      .default({ extraUserPublicKeys: [] }),
    bastion: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(2222),
        /** Names the `@cert-authority` line covers; default `<host>,*.neetodeploy`. */
        hostPatterns: z.string().optional(),
        /**
         * Besides the `@cert-authority` line: a pinned host public key for clients that cannot
         * verify host certificates (ssh2, the CLI's `exec`).
         */
        pinnedHostKey: z.string().optional(),
        /** The same pin read from an OpenSSH `.pub` file (e.g. a mounted Secret item). */
        pinnedHostKeyFile: z.string().min(1).optional(),
      })
      .strict()
      .refine((b) => b.pinnedHostKey === undefined || b.pinnedHostKeyFile === undefined, {
        message: 'set pinnedHostKey or pinnedHostKeyFile, not both',
        path: ['pinnedHostKeyFile'],
      })
      .default({ host: '127.0.0.1', port: 2222 }),
    limits: z
      .object({
        jsonBodyBytes: z.number().int().min(256).max(1_048_576).default(16_384),
        signInPerMinute: z.number().int().min(1).default(10),
        codeEntryPerMinute: z.number().int().min(1).default(20),
        loginSessionsPerMinute: z.number().int().min(1).default(30),
      })
      .strict()
      .default({
        jsonBodyBytes: 16_384,
        signInPerMinute: 10,
        codeEntryPerMinute: 20,
        loginSessionsPerMinute: 30,
      }),
    /**
     * Prometheus metrics on a listener of their own, never on the API port (which faces the
     * internet). Without `port`, no metrics endpoint is served.
     */
    metrics: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).optional(),
      })
      .strict()
      .default({ enabled: true, host: '127.0.0.1' }),
    storage: z
      .object({
        /**
         * `sqlite` (default): one database file under the data dir, one replica. `kubernetes`:
         * labelled Secrets in `namespace` (storage/kubernetes), shared by every replica.
         */
        type: z.enum(['sqlite', 'kubernetes']).default('sqlite'),
        /** Namespace of the kubernetes store; default: the kubeconfig's or service account's. */
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)
          .optional(),
        /** Kubeconfig of the kubernetes store; omitted: the in-cluster service account. */
        kubeconfigPath: z.string().min(1).optional(),
        /** Context of that kubeconfig (default: its current context). */
        context: z.string().min(1).optional(),
        /** Per-request timeout of the kubernetes store's calls to the API server. */
        requestTimeoutMs: z.number().int().min(100).default(15_000),
        /** Audit events the kubernetes store keeps (the log has them all). */
        auditRetain: z.number().int().min(10).default(1000),
        /**
         * SQLite `synchronous` (WAL). `normal` (default): a commit is in the operating system's
         * hands before the request is answered, so killing the process at any moment loses no
         * acknowledged write; only a power cut or kernel crash may lose the last commits.
         * `full`: also fsync every commit (survives power loss; ~one fsync per certificate).
         */
        synchronous: z.enum(['full', 'normal']).default('normal'),
      })
      .strict()
      .default({
        type: 'sqlite',
        requestTimeoutMs: 15_000,
        auditRetain: 1000,
        synchronous: 'normal',
      }),
    /**
     * Where apps live, built when no platform is passed in code. `local`: apps under a data dir;
     * `kubernetes`: the platform's own config plus `type` (`platformConfigSchema`).
     * Omitted: no platform (the app list comes from the policy's literal app names).
     */
    platform: platformConfigSchema.optional(),
    /** Sign-in through an OpenID Connect provider (auth/oidc-config.ts); absent: local accounts. */
    oidc: oidcConfigSchema.optional(),
    /** Where session recordings are read from (http/api/sessions-config.ts). */
    recording: recordingConfigSchema,
  })
  .strict();

export type KeysServiceConfig = z.output<typeof keysServiceConfigSchema>;
export type KeysServiceConfigInput = z.input<typeof keysServiceConfigSchema>;

/** Thrown for an invalid configuration; the message lists every problem with its path. */
export class ConfigError extends BadRequest {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'invalid_config', cause });
  }
}

function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: string): string {
  return issues
    .map((issue) => {
      const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Validates a config object. Relative paths resolve against `baseDir` (the config file's folder),
 * so a config file can be moved with its data.
 */
export function parseKeysServiceConfig(
  input: unknown,
  baseDir = process.cwd(),
  pathPrefix = '',
): KeysServiceConfig {
  const result = keysServiceConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      `invalid configuration: ${formatIssues(result.error.issues, pathPrefix)}`,
    );
  }
  const config = result.data;
  const abs = (p: string): string => path.resolve(baseDir, p);
  const absOpt = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : abs(p);
  return {
    ...config,
    dataDir: abs(config.dataDir),
    policyFile: config.policyFile === undefined ? undefined : abs(config.policyFile),
    tls:
      config.tls.mode === 'files'
        ? { mode: 'files', certFile: abs(config.tls.certFile), keyFile: abs(config.tls.keyFile) }
        : config.tls,
    storage: { ...config.storage, kubeconfigPath: absOpt(config.storage.kubeconfigPath) },
    ...(config.platform === undefined
      ? {}
      : {
          platform:
            config.platform.type === 'local'
              ? { ...config.platform, dataDir: abs(config.platform.dataDir) }
              : resolveKubernetesPaths(config.platform, abs),
        }),
    ca: {
      ...config.ca,
      userKeyFile: config.ca.userKeyFile === undefined ? undefined : abs(config.ca.userKeyFile),
      hostKeyFile: config.ca.hostKeyFile === undefined ? undefined : abs(config.ca.hostKeyFile),
    },
    bastion: resolvePinnedHostKey(config.bastion, abs, pathPrefix),
    recording: resolveRecordingConfig(config.recording, abs),
    ...(config.oidc?.clientSecretFile === undefined
      ? {}
      : { oidc: { ...config.oidc, clientSecretFile: abs(config.oidc.clientSecretFile) } }),
  };
}

/**
 * Reads `pinnedHostKeyFile` into `pinnedHostKey`, the one field the rest of the service uses,
 * and checks the pin either way: it becomes one known_hosts line, so it must be one key line.
 * The file is dropped from the result so that a parsed config parses again.
 */
function resolvePinnedHostKey(
  bastion: KeysServiceConfig['bastion'],
  abs: (p: string) => string,
  pathPrefix: string,
): KeysServiceConfig['bastion'] {
  const { pinnedHostKeyFile, ...rest } = bastion;
  const field = (name: string): string => [pathPrefix, 'bastion', name].filter(Boolean).join('.');
  let text: string;
  let source: string;
  if (pinnedHostKeyFile !== undefined) {
    const file = abs(pinnedHostKeyFile);
    source = `${field('pinnedHostKeyFile')}: ${file}`;
    try {
      text = fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `invalid configuration: ${field('pinnedHostKeyFile')}: cannot read ${file}: ${(err as Error).message}`,
        err,
      );
    }
  } else if (rest.pinnedHostKey !== undefined) {
    source = field('pinnedHostKey');
    text = rest.pinnedHostKey.trim();
  } else return rest;
  try {
    if (/[\r\n]/.test(text)) throw new Error('expected exactly one key line');
    parsePublicKeyText(text);
  } catch (err) {
    throw new ConfigError(
      `invalid configuration: ${source} is not an OpenSSH public key: ${(err as Error).message}`,
      err,
    );
  }
  return { ...rest, pinnedHostKey: text };
}

/** Reads a YAML or JSON config file (the `serve --config FILE` path). */
export function loadKeysServiceConfigFile(file: string): KeysServiceConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, err);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`, err);
  }
  const baseDir = path.dirname(path.resolve(file));
  // A shared file for the whole embedded default nests this part under `keysService`.
  if (data !== null && typeof data === 'object' && 'keysService' in data) {
    return parseKeysServiceConfig(data.keysService, baseDir, 'keysService');
  }
  return parseKeysServiceConfig(data ?? {}, baseDir);
}

/** Where the SQLite database lives inside the data dir. */
export function databasePath(config: Pick<KeysServiceConfig, 'dataDir'>): string {
  return path.join(config.dataDir, 'keys-service.sqlite');
}
