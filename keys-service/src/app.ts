/**
 * The one place that wires the keys-service together: config → store, CA keys, policy, TLS →
 * express app (and the express-free certificates handler) → HTTPS (or HTTP) server. `start()`
 * listens (port 0 works) and returns the bound address; `stop()` closes the server, the policy
 * watcher and the store.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import cookieParser from 'cookie-parser';
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { NotFound, createKubernetesPlatform, createLocalPlatform } from '@neetodeploy/platform';
import type { Platform } from '@neetodeploy/platform';
import { createLocalAuthenticator } from './auth/index.js';
import type { Authenticator } from './auth/index.js';
import { loadCertificateAuthorities } from './ca/index.js';
import type { CertificateAuthorities } from './ca/index.js';
import type { KeysServiceConfig } from './config.js';
import type { DomainContext } from './domain/index.js';
import { EVENTS } from './events.js';
import { createMetrics } from './metrics.js';
import type { KeysMetrics } from './metrics.js';
import { createPolicySource } from './policy/index.js';
import type { PolicySource } from './policy/index.js';
import { createApiRouter } from './routes/api.js';
import { createCertificatesHandler, isCertificateRequest } from './routes/certificates.js';
import { apiErrorHandler } from './routes/http.js';
import { createRequestObserver } from './routes/observe.js';
import { openConfiguredStore, verifyStore } from './storage/index.js';
import type { KeysStore } from './storage/index.js';
import { ensureLocalTls, loadTlsFiles } from './tls/index.js';
import type { TlsMaterial } from './tls/index.js';
import { createWebRouter } from './web/router.js';

export interface KeysServiceDeps {
  readonly logger?: Logger;
  /** Where apps live; without one, `GET /api/v1/apps` lists the policy's literal app names. */
  readonly platform?: Platform;
  /** A store to use instead of SQLite under the data dir (the caller closes it). */
  readonly store?: KeysStore;
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
}

export interface KeysService {
  start(): Promise<KeysServiceAddress>;
  /** Idempotent. */
  stop(): Promise<void>;
  /** Valid after start(). */
  readonly context: DomainContext;
  readonly authorities: CertificateAuthorities;
}

function loadOrCreateSecret(file: string): Buffer {
  if (fs.existsSync(file)) return fs.readFileSync(file);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = crypto.randomBytes(32);
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return secret;
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
  const metrics: KeysMetrics = createMetrics({ processMetrics: deps.processMetrics ?? false });

  let store: KeysStore | undefined;
  /** A platform built here from `config.platform` (closed by `stop()`). */
  let ownPlatform: Platform | undefined;
  let policy: PolicySource | undefined;
  let server: http.Server | https.Server | undefined;
  let context: DomainContext | undefined;
  let cleanupTimer: NodeJS.Timeout | undefined;
  let draining = false;
  let stopped: Promise<void> | undefined;

  const observer = createRequestObserver(metrics, logger);

  const buildApp = (ctx: DomainContext, baseUrl: () => string): Express => {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.set('trust proxy', config.trustProxyHops);
    app.use((req: Request, res: Response, next: NextFunction) => {
      observer.observe(req, res);
      next();
    });

    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      if (draining) {
        res.status(503).json({ status: 'draining' });
        return;
      }
      try {
        await ctx.store.revocations.version();
        res.json({ status: 'ready' });
      } catch (err) {
        logger.error({ event: 'keys.not_ready', err }, 'store not reachable');
        res.status(503).json({ status: 'not ready' });
      }
    });
    if (config.metrics.enabled) {
      app.get('/metrics', async (_req, res) => {
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      });
    }
    app.get('/', (_req, res) => {
      res.redirect(302, '/device');
    });
    app.use('/api/v1', createApiRouter(ctx, { baseUrl }));
    app.use(
      '/device',
      cookieParser(),
      createWebRouter(ctx, {
        authenticator: deps.authenticator ?? createLocalAuthenticator(ctx.store.users),
        cookieSecret: loadOrCreateSecret(path.join(config.dataDir, 'web-secret')),
      }),
    );
    app.use((_req, _res, next) => {
      next(new NotFound('no such page', { code: 'no_such_endpoint' }));
    });
    app.use(apiErrorHandler(logger, metrics));
    return app;
  };

  const service: KeysService = {
    authorities,
    get context(): DomainContext {
      if (!context) throw new Error('keys-service not started');
      return context;
    },

    async start() {
      if (server) throw new Error('keys-service already started');
      if (!deps.store) {
        const opened = openConfiguredStore(config, logger, { serving: true });
        store = opened;
        // The Kubernetes store checks its rights now, so a missing Role fails the boot clearly.
        await verifyStore(opened).catch(async (err: unknown) => {
          store = undefined;
          await opened.close();
          throw err;
        });
      } else store = deps.store;
      if (!deps.platform && config.platform) {
        const platformLogger = logger.child({ module: 'platform' });
        const pc = config.platform;
        ownPlatform =
          pc.type === 'local'
            ? await createLocalPlatform(
                { dataDir: pc.dataDir, runProcesses: false },
                { logger: platformLogger },
              )
            : await createKubernetesPlatform((({ type: _type, ...rest }) => rest)(pc), {
                logger: platformLogger,
              });
      }
      const platform = deps.platform ?? ownPlatform;
      policy = createPolicySource({
        file: config.policyFile,
        debounceMs: config.policyReloadDebounceMs,
        logger,
      });
      const ctx: DomainContext = {
        config,
        store,
        policy,
        authorities,
        ...(platform ? { platform } : {}),
        logger,
        metrics,
        clock,
      };
      context = ctx;

      let tls: TlsMaterial | undefined;
      if (config.tls.mode === 'self-signed') tls = ensureLocalTls(config.dataDir);
      else if (config.tls.mode === 'files')
        tls = loadTlsFiles(config.tls.certFile, config.tls.keyFile);

      let boundUrl = '';
      const baseUrl = (): string => config.publicUrl ?? boundUrl;
      const app = buildApp(ctx, baseUrl);
      const issueCertificate = createCertificatesHandler(ctx, {
        observer,
        trustedProxyHops: config.trustProxyHops,
      });
      const handle: http.RequestListener = (req, res) => {
        if (isCertificateRequest(req)) issueCertificate(req, res);
        else app(req, res);
      };
      const srv = tls
        ? https.createServer({ key: tls.key, cert: tls.cert }, handle)
        : http.createServer(handle);
      srv.headersTimeout = 15_000;
      srv.requestTimeout = 30_000;
      srv.on('connection', (socket: Socket) => {
        socket.setNoDelay(true);
      });
      server = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(config.listen.port, config.listen.host, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      const addr = srv.address() as AddressInfo;
      const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address;
      const hostPart = host.includes(':') ? `[${host}]` : host;
      boundUrl = `${tls ? 'https' : 'http'}://${hostPart}:${addr.port}`;

      cleanupTimer = setInterval(
        () => {
          const before = new Date(clock().getTime() - 24 * 60 * 60 * 1000);
          Promise.all([
            ctx.store.loginSessions.deleteExpired(before),
            ctx.store.tokens.deleteExpired(before),
          ]).catch((err: unknown) =>
            logger.error({ event: 'keys.cleanup_failed', err }, 'cleanup failed'),
          );
        },
        10 * 60 * 1000,
      );
      cleanupTimer.unref();

      if (tls?.caFile) {
        logger.info(
          { event: EVENTS.tls, fingerprint: tls.fingerprint, caFile: tls.caFile },
          `TLS certificate SHA-256 ${tls.fingerprint}; clients trust ${tls.caFile}`,
        );
      } else if (tls) {
        logger.info({ event: EVENTS.tls, fingerprint: tls.fingerprint }, 'TLS certificate loaded');
      }
      logger.info(
        { event: EVENTS.started, url: boundUrl },
        `keys-service listening on ${boundUrl}`,
      );
      return {
        host,
        port: addr.port,
        url: boundUrl,
        ...(tls?.caFile ? { caFile: tls.caFile } : {}),
        ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
      };
    },

    stop() {
      stopped ??= (async () => {
        draining = true;
        clearInterval(cleanupTimer);
        const srv = server;
        if (srv) {
          const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
          srv.closeIdleConnections();
          // In-flight requests get a moment to finish; then the connections are cut.
          const grace = setTimeout(() => srv.closeAllConnections(), 2000);
          await closed;
          clearTimeout(grace);
        }
        policy?.close();
        if (store && !deps.store) await store.close();
        await ownPlatform?.close();
        logger.info({ event: EVENTS.stopped }, 'keys-service stopped');
      })();
      return stopped;
    },
  };
  return service;
}
