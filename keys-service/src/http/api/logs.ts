/**
 * `GET /api/v1/apps/:app/logs?tail=N&follow=true&process=web&since=10m`: Heroku-style text
 * lines, or NDJSON with `Accept: application/x-ndjson`. When the client goes away the platform
 * stream is aborted, so no watcher outlives its request.
 */
import { once } from 'node:events';
import express from 'express';
import type { Request, Router } from 'express';
import { NDJSON_MEDIA_TYPE, formatLogLine, logsQuerySchema } from '@neetodeploy/contract';
import type { DomainContext } from '../../domain/index.js';
import { logLineBody, openLogStream, parseSince } from '../../domain/logs.js';
import { EVENTS } from '../../events.js';
import { bearerCaller, parseBody } from '../request.js';

function wantsNdjson(req: Request): boolean {
  return (req.get('accept') ?? '')
    .split(',')
    .some((t) => t.trim().split(';')[0] === NDJSON_MEDIA_TYPE);
}

export function createLogsRouter(ctx: DomainContext): Router {
  const router = express.Router();

  router.get('/apps/:app/logs', async (req, res) => {
    const caller = await bearerCaller(ctx, req);
    const query = parseBody(logsQuerySchema, { ...req.query });
    const abort = new AbortController();
    res.once('close', () => abort.abort());

    const stream = await openLogStream(ctx, caller, req.params.app, {
      signal: abort.signal,
      ...(query.tail !== undefined ? { tail: query.tail } : {}),
      ...(query.follow !== undefined ? { follow: query.follow } : {}),
      ...(query.process !== undefined ? { process: query.process } : {}),
      ...(query.since !== undefined ? { since: parseSince(query.since, ctx.clock()) } : {}),
    });

    const ndjson = wantsNdjson(req);
    res.status(200);
    res.set(
      'Content-Type',
      ndjson ? `${NDJSON_MEDIA_TYPE}; charset=utf-8` : 'text/plain; charset=utf-8',
    );
    res.set('Cache-Control', 'no-store');
    res.set('X-Accel-Buffering', 'no');
    res.flushHeaders();

    try {
      for await (const line of stream) {
        if (abort.signal.aborted) break;
        const body = logLineBody(line);
        const text = ndjson ? JSON.stringify(body) : formatLogLine(body);
        if (!res.write(`${text}\n`)) {
          await Promise.race([once(res, 'drain'), once(res, 'close')]);
        }
      }
    } catch (err) {
      // Headers are gone: the only honest signal left is ending the stream early.
      if (!abort.signal.aborted) {
        ctx.logger.warn(
          { event: EVENTS.logStreamFailed, app: req.params.app, err },
          'log stream failed',
        );
      }
    } finally {
      abort.abort();
      if (!res.writableEnded) res.end();
    }
  });

  return router;
}
