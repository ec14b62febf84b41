/**
 * `POST /certificates`: the one endpoint on every `neetodeploy exec` and `ssh` connection. The
 * bearer token is checked (one store read) before the body is read, so an anonymous caller
 * gets 401 and learns nothing more; a body announced larger than the limit is refused from its
 * `Content-Length` without being read, and the connection closed.
 */
import express from 'express';
import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import { APP_NAME_PATTERN } from '@neetodeploy/platform';
import { PROCESS_NAME_PATTERN, issueCertificate } from '../../domain/index.js';
import type { Caller, DomainContext, IssuedCertificate } from '../../domain/index.js';
import { PayloadTooLarge } from '../errors.js';
import { bearerCaller, clientIp, parseBody } from '../request.js';

const certificateBody = z
  .object({
    app: z.string().regex(APP_NAME_PATTERN, 'app names are DNS labels'),
    public_key: z.string().min(1).max(16_384),
    process: z.string().regex(PROCESS_NAME_PATTERN, 'a process type name').optional(),
  })
  .strict();

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

/**
 * Refuses a body announced over the limit before reading it. The body parser would read (and
 * drop) all of it first, keeping a slow client's connection for as long as it likes to send.
 */
function refuseAnnouncedOversize(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const announced = req.get('content-length');
    if (announced !== undefined && Number(announced) > limitBytes) {
      res.set('Connection', 'close');
      next(new PayloadTooLarge(`request body too large (at most ${limitBytes} bytes)`));
      return;
    }
    next();
  };
}

export function createCertificatesRouter(ctx: DomainContext): Router {
  const router = express.Router();
  const limit = ctx.config.limits.jsonBodyBytes;
  // inflate: false: compressed bodies are refused, as they always were on this endpoint.
  const json = express.json({ limit, strict: true, type: '*/*', inflate: false });

  router.post(
    '/certificates',
    async (req, res, next) => {
      res.locals.caller = await bearerCaller(ctx, req);
      next();
    },
    refuseAnnouncedOversize(limit),
    json,
    async (req, res) => {
      const body = parseBody(certificateBody, req.body);
      const issued = await issueCertificate(ctx, res.locals.caller as Caller, {
        app: body.app,
        publicKey: body.public_key,
        ...(body.process !== undefined ? { process: body.process } : {}),
        clientIp: clientIp(req),
      });
      res.status(201).json(certificateAnswer(issued));
    },
  );

  return router;
}
