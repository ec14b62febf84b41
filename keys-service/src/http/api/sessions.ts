/**
 * `GET /api/v1/apps/:app/sessions?user=&since=&limit=` (recorded sessions, newest first) and
 * `GET /api/v1/sessions/:id/recording` (one recording's asciicast v3 text, streamed). Both need
 * `sessions:read` on the app; refusals keep their status because they happen before any byte.
 */
import { once } from 'node:events';
import express from 'express';
import type { Response, Router } from 'express';
import { ASCIICAST_MEDIA_TYPE, sessionsQuerySchema } from '@neetodeploy/contract';
import type { Sessions } from '@neetodeploy/contract';
import type { DomainContext } from '../../domain/index.js';
import { listSessions, openRecording, parseSessionsSince } from '../../domain/sessions.js';
import type { OpenedRecording } from '../../domain/sessions.js';
import { EVENTS } from '../../events.js';
import { bearerCaller, clientIp, parseBody } from '../request.js';

/**
 * Writes a recording to `res` with backpressure; ends early (the only signal left once headers
 * are out) when the store fails mid-way, and stops reading when the client goes away.
 */
export async function streamRecording(
  ctx: DomainContext,
  res: Response,
  id: string,
  recording: OpenedRecording,
): Promise<void> {
  let gone = false;
  res.once('close', () => (gone = true));
  res.status(200);
  res.set('Content-Type', `${ASCIICAST_MEDIA_TYPE}; charset=utf-8`);
  res.set('Cache-Control', 'no-store');
  res.set('X-Content-Type-Options', 'nosniff');
  try {
    for await (const piece of recording.text) {
      if (gone) break;
      if (!res.write(piece)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
  } catch (err) {
    ctx.logger.warn(
      { event: EVENTS.recordingStreamFailed, session: id, app: recording.app, err },
      'recording stream failed',
    );
    res.destroy();
    return;
  } finally {
    await recording.close();
  }
  if (!res.writableEnded) res.end();
}

export function createSessionsRouter(ctx: DomainContext): Router {
  const router = express.Router();

  router.get('/apps/:app/sessions', async (req, res) => {
    const caller = await bearerCaller(ctx, req);
    const query = parseBody(sessionsQuerySchema, { ...req.query });
    const sessions = await listSessions(ctx, caller, req.params.app, {
      ...(query.user !== undefined ? { user: query.user } : {}),
      ...(query.since !== undefined ? { since: parseSessionsSince(query.since, ctx.clock()) } : {}),
      ...(query.limit !== undefined ? { limit: query.limit } : {}),
    });
    const body: Sessions = { sessions };
    res.set('Cache-Control', 'no-store');
    res.json(body);
  });

  router.get('/sessions/:id/recording', async (req, res) => {
    const caller = await bearerCaller(ctx, req);
    const id = req.params.id;
    const recording = await openRecording(ctx, caller, id, { clientIp: clientIp(req) });
    await streamRecording(ctx, res, id, recording);
  });

  return router;
}
