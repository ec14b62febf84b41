/**
 * `POST /api/v1/certificates`, served on node:http directly rather than through express: it is
 * the one endpoint on every `neetodeploy exec` and `ssh` connection, and express's routing and
 * request/response prototypes cost several times the signing itself (docs/benchmarks.md). It
 * keeps everything the express routes give: security headers, metrics and request logs (the
 * shared observer, written in one `writeHead`), the bearer token checked before the body is read, a bounded strict JSON
 * body, the zod schema, typed JSON errors, and the audit event committed before the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { APP_NAME_PATTERN } from '@neetodeploy/platform';
import { PROCESS_NAME_PATTERN, authenticateToken, issueCertificate } from '../domain/index.js';
import type { DomainContext, IssuedCertificate } from '../domain/index.js';
import { bearerToken, forwardedClientIp, parseBody, reportFailure, writeJson } from './http.js';
import { BodyAborted, readJsonBody } from './json-body.js';
import { pathnameOf } from './observe.js';
import type { RequestObserver } from './observe.js';

export const CERTIFICATES_PATH = '/api/v1/certificates';

const certificateBody = z
  .object({
    app: z.string().regex(APP_NAME_PATTERN, 'app names are DNS labels'),
    public_key: z.string().min(1).max(16_384),
    process: z.string().regex(PROCESS_NAME_PATTERN, 'a process type name').optional(),
  })
  .strict();

/**
 * True for the requests this handler serves, matched as express matched the route it replaces:
 * any query string, case-insensitive, an optional trailing slash.
 */
export function isCertificateRequest(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const pathname = pathnameOf(req.url);
  return (
    pathname === CERTIFICATES_PATH ||
    pathname.toLowerCase().replace(/\/$/, '') === CERTIFICATES_PATH
  );
}

function certificateAnswer(issued: IssuedCertificate): unknown {
  return {
    certificate: issued.certificate,
    serial: issued.serial,
    key_id: issued.keyId,
    request_id: issued.requestId,
    principals: issued.principals,
    valid_after: issued.validAfter.toISOString(),
    valid_before: issued.validBefore.toISOString(),
    bastion: {
      host: issued.bastion.host,
      port: issued.bastion.port,
      known_hosts: issued.bastion.knownHosts,
    },
  };
}

export interface CertificatesHandlerOptions {
  readonly observer: RequestObserver;
  /** `trustProxyHops` from the config: how many `X-Forwarded-For` entries to believe. */
  readonly trustedProxyHops: number;
}

export function createCertificatesHandler(
  ctx: DomainContext,
  options: CertificatesHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = ctx.config.limits.jsonBodyBytes;

  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    rawBody: Promise<unknown>,
  ): Promise<void> => {
    // The token is checked before the body is looked at: an anonymous caller gets 401 and
    // learns nothing more, whatever its body.
    const caller = await authenticateToken(ctx, bearerToken(req.headers.authorization));
    const body = parseBody(certificateBody, await rawBody);
    const issued = await issueCertificate(ctx, caller, {
      app: body.app,
      publicKey: body.public_key,
      ...(body.process !== undefined ? { process: body.process } : {}),
      clientIp: forwardedClientIp(req, options.trustedProxyHops),
    });
    writeJson(res, 201, certificateAnswer(issued));
  };

  const handle = (
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
    rawBody: Promise<unknown>,
  ): void => {
    serve(req, res, rawBody).then(
      () => options.observer.record('POST', CERTIFICATES_PATH, 201, started),
      (err: unknown) => {
        if (err instanceof BodyAborted || res.headersSent || res.destroyed) {
          res.destroy();
          return;
        }
        const { status, body } = reportFailure(ctx.logger, ctx.metrics, err, {
          method: 'POST',
          path: CERTIFICATES_PATH,
        });
        // A body that was not read to its end (refused before or while reading) would have to
        // be drained for the next request on this connection; closing is cheaper and safer.
        writeJson(res, status, body, req.complete ? [] : ['Connection', 'close']);
        options.observer.record('POST', CERTIFICATES_PATH, status, started);
      },
    );
  };

  // Requests that arrive in one turn of the event loop are started together on the next one.
  // Their steps then interleave at each await, so each step (token lookup, signing, the audit
  // commit, the TLS writes) runs for all of them back to back while its code and data are still
  // in the CPU caches. At 16 concurrent clients this saved ~10% of the CPU per certificate
  // (interleaved A/B, 188 vs 207 us median), more where signing dominates. A lone request
  // waits one turn.
  let arrived: [IncomingMessage, ServerResponse, number, Promise<unknown>][] = [];
  const startArrived = (): void => {
    const batch = arrived;
    arrived = [];
    for (const [req, res, started, rawBody] of batch) handle(req, res, started, rawBody);
  };
  return (req, res) => {
    // The body is read from arrival (bounded by the limit), so it is never left unread behind
    // a request destroyed while it waited for its turn.
    const rawBody = readJsonBody(req, limit);
    rawBody.catch(() => undefined);
    if (arrived.length === 0) setImmediate(startArrived);
    arrived.push([req, res, performance.now(), rawBody]);
  };
}
