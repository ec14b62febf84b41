/**
 * What a signed-in CLI asks about itself: `GET /me`, `DELETE /tokens/current` (logout),
 * `GET /apps` (the apps it may use and how).
 */
import express from 'express';
import type { Router } from 'express';
import type { Apps, Me, Processes } from '@neetodeploy/contract';
import {
  listAppsForCaller,
  listProcessesForCaller,
  revokeCurrentToken,
} from '../../domain/index.js';
import type { DomainContext } from '../../domain/index.js';
import { bearerCaller, clientIp } from '../request.js';

export function createAccountRouter(ctx: DomainContext): Router {
  const router = express.Router();

  router.get('/me', async (req, res) => {
    const caller = await bearerCaller(ctx, req);
    const groups = [...ctx.policy.current().groupsOf(caller)].sort();
    const me: Me = {
      email: caller.email,
      groups,
      token: {
        expires_at: caller.tokenExpiresAt.toISOString(),
        created_at: caller.tokenCreatedAt.toISOString(),
        client_description: caller.clientDescription,
      },
    };
    res.json(me);
  });

  router.delete('/tokens/current', async (req, res) => {
    await revokeCurrentToken(ctx, await bearerCaller(ctx, req), clientIp(req));
    res.status(204).end();
  });

  router.get('/apps', async (req, res) => {
    const apps = await listAppsForCaller(ctx, await bearerCaller(ctx, req));
    const body: Apps = {
      apps: apps.map((a) => ({
        name: a.name,
        permissions: [...a.permissions],
        ...(a.processTypes ? { process_types: [...a.processTypes] } : {}),
      })),
    };
    res.json(body);
  });

  router.get('/apps/:app/processes', async (req, res) => {
    const app = req.params.app;
    const found = await listProcessesForCaller(ctx, await bearerCaller(ctx, req), app);
    const body: Processes = {
      app,
      process_types: [...found.processTypes],
      processes: found.processes.map((p) => ({
        name: p.name,
        type: p.type,
        state: p.state,
        ...(p.pod ? { pod: p.pod } : {}),
        ...(p.startedAt ? { started_at: p.startedAt.toISOString() } : {}),
      })),
    };
    res.json(body);
  });

  return router;
}
