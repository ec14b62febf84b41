/**
 * `GET/PATCH /api/v1/apps/:app/config`. The version is the ETag; a PATCH with `If-Match` on a
 * stale version gets 409 and changes nothing. Bodies carry secrets: never logged.
 */
import express from 'express';
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { ConfigVars } from '@neetodeploy/platform';
import type { Caller, DomainContext } from '../../domain/index.js';
import { CONFIG_VAR_LIMITS, getConfigVars, setConfigVars } from '../../domain/config-vars.js';
import { bearerCaller, clientIp, parseBody } from '../request.js';

const changeBody = z
  .object({
    set: z.record(z.string(), z.string()).default({}),
    unset: z.array(z.string()).default([]),
    /** Restart the app's processes so they see the change (default true). */
    restart: z.boolean().optional(),
  })
  .strict();

/** `"v"` ↔ `v`: versions are opaque to clients, quoted as RFC 9110 entity tags. */
function etagOf(version: string): string {
  return `"${version}"`;
}

/** The version named by `If-Match`; undefined when absent or `*` (any version). */
function ifMatchVersion(req: Request): string | undefined {
  const header = req.get('if-match')?.trim();
  if (!header || header === '*') return undefined;
  return header.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

function sendVars(res: Response, app: string, vars: ConfigVars): void {
  res.set('ETag', etagOf(vars.version));
  res.set('Cache-Control', 'no-store');
  res.json({ app, vars: vars.vars, version: vars.version });
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
      const body = parseBody(changeBody, req.body);
      const ifMatch = ifMatchVersion(req);
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
