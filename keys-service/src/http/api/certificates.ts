/**
 * `POST /certificates`: the one endpoint on every `neetodeploy exec` and `ssh` connection. The
 * bearer token is checked (one store read) before the body is read, so an anonymous caller
 * gets 401 and learns nothing more; a body announced larger than the limit is refused from its
 * `Content-Length` without being read, and the connection closed.
 */
import express from 'express';
import type { RequestHandler, Router } from 'express';
import { certificateRequestSchema } from '@neetodeploy/contract';
import { issueCertificate } from '../../domain/index.js';
import type { Caller, DomainContext } from '../../domain/index.js';
import { PayloadTooLarge } from '../errors.js';
import { bearerCaller, clientIp, parseBody } from '../request.js';

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
      const body = parseBody(certificateRequestSchema, req.body);
      const issued = await issueCertificate(ctx, res.locals.caller as Caller, {
        app: body.app,
        publicKey: body.public_key,
        ...(body.process !== undefined ? { process: body.process } : {}),
        clientIp: clientIp(req),
      });
      res.status(201).json(issued);
    },
  );

  return router;
}
