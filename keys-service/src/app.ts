/**
 * `createKeysService(config, deps)`: the keys-service from its parts. main.ts builds every
 * part (logger, store, platform, policy, TLS) and passes it in; a part left out is built here
 * from the config by the same factory (for the all-in-one and tests) and then also closed here.
 * `start()` listens (port 0 works) and returns the bound address; `stop()` is ordered: stop
 * answering, then close what this service opened.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { createPlatformFromConfig } from '@neetodeploy/platform';
import type { Platform } from '@neetodeploy/platform';
import { createLocalAuthenticator } from './auth/index.js';
import { createOidcAuthenticator } from './auth/oidc.js';
import type { Authenticator } from './auth/index.js';
import { loadCertificateAuthorities } from './ca/index.js';
import type { CertificateAuthorities } from './ca/index.js';
import type { KeysServiceConfig } from './config.js';
import type { DomainContext } from './domain/index.js';
import { MAX_CREDENTIAL_LIFETIME_SECONDS } from './domain/index.js';
import { EVENTS } from './events.js';
import { createHttpApp, createMetricsApp } from './http/app.js';
import { listRoutes } from './http/routes.js';
import type { ServedRoute } from './http/routes.js';
import { closeServer, createHttpServer, listen } from './http/server.js';
import type { HttpServer } from './http/server.js';
import { createMetrics } from './metrics.js';
import { createPolicySource } from './policy/index.js';
import type { PolicySource } from './policy/index.js';
import { openConfiguredStore, verifyStore } from './storage/index.js';
import type { KeysStore } from './storage/index.js';
import { loadConfiguredTls } from './tls/index.js';
import type { TlsMaterial } from './tls/index.js';

export interface KeysServiceDeps {
  readonly logger?: Logger;
  /** Where apps live; without one (and no `platform` config), `GET /api/v1/apps` lists the policy's literal app names. */
  readonly platform?: Platform;
  /** The store (the caller closes it); default: the one the config names. */
  readonly store?: KeysStore;
  /** The access policy (the caller closes it); default: watches `config.policyFile`. */
  readonly policy?: PolicySource;
  /** The server's certificate; default: what `config.tls` names (none for `mode: none`). */
  readonly tls?: TlsMaterial;
  /** Replaces local accounts (e.g. OpenID Connect). */
  readonly authenticator?: Authenticator;
  readonly clock?: () => Date;
  /** Process-wide metrics (GC, memory); off by default so tests can run several instances. */
  readonly processMetrics?: boolean;
}

export interface KeysServiceAddress {
  readonly host: string;
  readonly port: number;
  /** `https://127.0.0.1:PORT` (or http behind a proxy). */
  readonly url: string;
  /** The CA file clients should trust (self-signed mode). */
  readonly caFile?: string;
  readonly tlsFingerprint?: string;
  /** `http://host:port/metrics` when `config.metrics.port` is set (its own listener). */
  readonly metricsUrl?: string;
}

export interface KeysService {
  start(): Promise<KeysServiceAddress>;
  /** Idempotent. */
  stop(): Promise<void>;
  /** Valid after start(). */
  readonly context: DomainContext;
  readonly authorities: CertificateAuthorities;
  /** Every route the HTTP app serves, read from its router (valid after start()). */
  routes(): readonly ServedRoute[];
}

/** What start() opened itself because the caller did not pass it; closed by stop(). */
interface Owned {
  store?: KeysStore;
  platform?: Platform;
  policy?: PolicySource;
}

function loadOrCreateSecret(file: string): Buffer {
  if (fs.existsSync(file)) return fs.readFileSync(file);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = crypto.randomBytes(32);
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/** Opens the store the config names, checking now that a Kubernetes store has its rights. */
async function openStore(config: KeysServiceConfig, logger: Logger): Promise<KeysStore> {
  const store = openConfiguredStore(config, logger, { serving: true });
  try {
    await verifyStore(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** Hourly-ish removal of long-expired login sessions and tokens. */
function startCleanup(ctx: DomainContext): NodeJS.Timeout {
  const timer = setInterval(
    () => {
      const now = ctx.clock().getTime();
      const before = new Date(now - 24 * 60 * 60 * 1000);
      Promise.all([
        ctx.store.loginSessions.deleteExpired(before),
        ctx.store.tokens.deleteExpired(before),
        ctx.store.revocations.pruneBefore(new Date(now - MAX_CREDENTIAL_LIFETIME_SECONDS * 1000)),
      ]).catch((err: unknown) =>
        ctx.logger.error({ event: EVENTS.cleanupFailed, err }, 'cleanup failed'),
      );
    },
    10 * 60 * 1000,
  );
  timer.unref();
  return timer;
}

/** The metrics listener, when configured (plain HTTP: it is meant for the cluster network). */
async function startMetrics(
  ctx: DomainContext,
  keep: (srv: HttpServer) => void,
): Promise<string | undefined> {
  const { enabled, host, port } = ctx.config.metrics;
  if (!enabled || port === undefined) return undefined;
  const srv = createHttpServer(createMetricsApp(ctx), undefined);
  keep(srv);
  const bound = await listen(srv, { host, port });
  ctx.logger.info({ event: EVENTS.metricsListening, url: bound.url }, 'metrics listening');
  return `${bound.url}/metrics`;
}

function logStarted(logger: Logger, url: string, tls: TlsMaterial | undefined): void {
  if (tls?.caFile) {
    logger.info(
      { event: EVENTS.tls, fingerprint: tls.fingerprint, caFile: tls.caFile },
      `TLS certificate SHA-256 ${tls.fingerprint}; clients trust ${tls.caFile}`,
    );
  } else if (tls) {
    logger.info({ event: EVENTS.tls, fingerprint: tls.fingerprint }, 'TLS certificate loaded');
  }
  logger.info({ event: EVENTS.started, url }, `keys-service listening on ${url}`);
}

export function createKeysService(
  config: KeysServiceConfig,
  deps: KeysServiceDeps = {},
): KeysService {
  const logger = (deps.logger ?? pino({ level: config.logLevel })).child({
    module: 'keys-service',
  });
  const clock = deps.clock ?? (() => new Date());
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const authorities = loadCertificateAuthorities(config);
  const metrics = createMetrics({ processMetrics: deps.processMetrics ?? false });
  const owned: Owned = {};
  let server: HttpServer | undefined;
  let metricsServer: HttpServer | undefined;
  let app: Express | undefined;
  let context: DomainContext | undefined;
  let cleanupTimer: NodeJS.Timeout | undefined;
  let draining = false;
  let stopped: Promise<void> | undefined;

  /** The context with every part, opening (and owning) what the caller left out. */
  const assemble = async (): Promise<DomainContext> => {
    const store = deps.store ?? (owned.store = await openStore(config, logger));
    let platform = deps.platform;
    if (!platform && config.platform) {
      platform = owned.platform = await createPlatformFromConfig(
        config.platform,
        { logger },
        { reaper: false },
      );
    }
    const policy =
      deps.policy ??
      (owned.policy = createPolicySource({
        file: config.policyFile,
        debounceMs: config.policyReloadDebounceMs,
        logger,
      }));
    return {
      config,
      store,
      policy,
      authorities,
      ...(platform ? { platform } : {}),
      logger,
      metrics,
      clock,
    };
  };

  const closeOwned = async (): Promise<void> => {
    owned.policy?.close();
    await owned.store?.close();
    await owned.platform?.close();
  };

  return {
    authorities,
    get context(): DomainContext {
      if (!context) throw new Error('keys-service not started');
      return context;
    },
    routes() {
      if (!app) throw new Error('keys-service not started');
      return listRoutes(app);
    },

    async start() {
      if (server) throw new Error('keys-service already started');
      const assembled = await assemble().catch(async (err: unknown) => {
        await closeOwned();
        throw err;
      });
      const authenticator: Authenticator =
        deps.authenticator ??
        (config.oidc
          ? createOidcAuthenticator(config.oidc, { users: assembled.store.users, logger, clock })
          : createLocalAuthenticator(assembled.store.users));
      // Requests read groups through the provider when it keeps them current (OIDC).
      const groups = authenticator.kind === 'redirect' ? authenticator.groups : undefined;
      const ctx: DomainContext = groups ? { ...assembled, groups } : assembled;
      context = ctx;
      const tls = deps.tls ?? loadConfiguredTls(config);
      let boundUrl = '';
      app = createHttpApp(ctx, {
        baseUrl: () => config.publicUrl ?? boundUrl,
        draining: () => draining,
        authenticator,
        cookieSecret: loadOrCreateSecret(path.join(config.dataDir, 'web-secret')),
      });
      const srv = (server = createHttpServer(app, tls));
      const bound = await listen(srv, config.listen);
      boundUrl = bound.url;
      const metricsUrl = await startMetrics(ctx, (m) => (metricsServer = m));
      cleanupTimer = startCleanup(ctx);
      logStarted(logger, bound.url, tls);
      return {
        ...bound,
        ...(metricsUrl ? { metricsUrl } : {}),
        ...(tls?.caFile ? { caFile: tls.caFile } : {}),
        ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
      };
    },

    stop() {
      stopped ??= (async () => {
        draining = true;
        clearInterval(cleanupTimer);
        if (server) await closeServer(server);
        if (metricsServer) await closeServer(metricsServer);
        await closeOwned();
        logger.info({ event: EVENTS.stopped }, 'keys-service stopped');
      })();
      return stopped;
    },
  };
}
