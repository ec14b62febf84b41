/**
 * `GET/PATCH /api/v1/apps/:app/config`. The version is the ETag; a PATCH with `If-Match` on a
 * stale version gets 409 and changes nothing. Bodies carry secrets: never logged.
 */
import express from 'express';
import type { Response, Router } from 'express';
import { configVarsChangeSchema, decodeVersionTag, encodeVersionTag } from '@neetodeploy/contract';
import type { ConfigVarsBody } from '@neetodeploy/contract';
import type { ConfigVars } from '@neetodeploy/platform';
import type { Caller, DomainContext } from '../../domain/index.js';
import { CONFIG_VAR_LIMITS, getConfigVars, setConfigVars } from '../../domain/config-vars.js';
import { bearerCaller, clientIp, parseBody } from '../request.js';

function sendVars(res: Response, app: string, vars: ConfigVars): void {
  res.set('ETag', encodeVersionTag(vars.version));
  res.set('Cache-Control', 'no-store');
  const body: ConfigVarsBody = { app, vars: { ...vars.vars }, version: vars.version };
  res.json(body);
}

export function createConfigVarsRouter(ctx: DomainContext): Router {
  const router = express.Router();
  const json = express.json({ limit: CONFIG_VAR_LIMITS.maxBodyBytes, strict: true, type: '*/*' });

  router.get('/apps/:app/config', async (req, res) => {
    const caller = await bearerCaller(ctx, req);
    const app = req.params.app;
    sendVars(res, app, await getConfigVars(ctx, caller, app));
  });

  // Authentication before body parsing: an anonymous caller gets 401 and learns nothing more.
  router.patch(
    '/apps/:app/config',
    async (req, res, next) => {
      res.locals.caller = await bearerCaller(ctx, req);
      next();
    },
    json,
    async (req, res) => {
      const caller = res.locals.caller as Caller;
      const app = req.params.app;
      const body = parseBody(configVarsChangeSchema, req.body);
      const ifMatch = decodeVersionTag(req.get('if-match'));
      const result = await setConfigVars(ctx, caller, app, {
        set: body.set,
        unset: body.unset,
        ...(ifMatch !== undefined ? { ifMatch } : {}),
        ...(body.restart !== undefined ? { restart: body.restart } : {}),
        clientIp: clientIp(req),
      });
      sendVars(res, app, result);
    },
  );

  return router;
}
