/**
 * The session pages under /device, for a signed-in browser with `sessions:read` on the app:
 * `/apps/:app/sessions` lists an app's recorded sessions, `/sessions/:id` plays one in
 * asciinema-player, `/sessions/:id/recording.cast` is the text the player fetches (stderr merged
 * into output, as the terminal showed it). The player's files come from the installed
 * `asciinema-player` package, served here (no CDN).
 */
import { createRequire } from 'node:module';
import express from 'express';
import type { Request, Response, Router } from 'express';
import { AppError } from '@neetodeploy/platform';
import type { Authenticator, AuthenticatedUser } from '../../auth/index.js';
import type { DomainContext } from '../../domain/index.js';
import { listSessions, openRecording } from '../../domain/sessions.js';
import { streamRecording } from '../api/sessions.js';
import { httpStatusFor } from '../errors.js';
import { clientIp } from '../request.js';
import type { PageKit } from './kit.js';
import { messagePage } from './pages.js';
import {
  PLAYER_PAGE_CSP,
  PLAYER_STARTER_JS,
  SESSIONS_STYLESHEET,
  sessionPlayerPage,
  sessionsListPage,
} from './sessions-pages.js';

const require = createRequire(import.meta.url);
const PLAYER_FILES = {
  js: require.resolve('asciinema-player/dist/bundle/asciinema-player.min.js'),
  css: require.resolve('asciinema-player/dist/bundle/asciinema-player.css'),
} as const;

/** The signed-in user with current groups, or undefined (then a page saying to sign in). */
async function signedIn(
  kit: PageKit,
  authenticator: Authenticator,
  req: Request,
): Promise<AuthenticatedUser | undefined> {
  const session = await kit.sessionOf(req);
  const user = session ? await authenticator.lookup(session.email) : undefined;
  // As for API tokens: groups as the provider sees them now (OIDC refresh), not as stored.
  const fresh = authenticator.kind === 'redirect' ? authenticator.groups : undefined;
  return user && fresh ? { ...user, groups: await fresh.current(user.email, user.groups) } : user;
}

function signInFirst(kit: PageKit, res: Response): void {
  kit.html(
    res,
    401,
    messagePage('Sign in first', 'Sign in on this site, then open this page again.'),
  );
}

/** Refusals and missing things as pages with their status; anything else goes on to a 500. */
function refusalPage(kit: PageKit, res: Response, err: unknown): void {
  if (!(err instanceof AppError)) throw err;
  kit.html(res, httpStatusFor(err), messagePage('Not available', err.userMessage));
}

export function createSessionPagesRouter(
  ctx: DomainContext,
  kit: PageKit,
  authenticator: Authenticator,
): Router {
  const router = express.Router();
  const asset = { maxAge: '1h', immutable: false, dotfiles: 'deny' as const };

  router.get('/assets/asciinema-player.min.js', (_req, res) => {
    res.type('js').sendFile(PLAYER_FILES.js, asset);
  });
  router.get('/assets/asciinema-player.css', (_req, res) => {
    res.type('css').sendFile(PLAYER_FILES.css, asset);
  });
  router.get('/assets/session-player.js', (_req, res) => {
    res.type('js').set('Cache-Control', 'public, max-age=3600').send(PLAYER_STARTER_JS);
  });
  router.get('/assets/sessions.css', (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=3600').send(SESSIONS_STYLESHEET);
  });

  router.get('/apps/:app/sessions', async (req, res) => {
    const user = await signedIn(kit, authenticator, req);
    if (!user) return signInFirst(kit, res);
    try {
      const sessions = await listSessions(ctx, user, req.params.app, {});
      kit.html(res, 200, sessionsListPage({ app: req.params.app, email: user.email, sessions }));
    } catch (err) {
      refusalPage(kit, res, err);
    }
  });

  router.get('/sessions/:id', async (req, res) => {
    const user = await signedIn(kit, authenticator, req);
    if (!user) return signInFirst(kit, res);
    const speed = Number(req.query.speed);
    try {
      // Opened (and closed unread) here so that a refusal is this page, not a broken player.
      const recording = await openRecording(ctx, user, req.params.id, {
        clientIp: clientIp(req),
        audit: false,
      });
      await recording.close();
      res.set('Content-Security-Policy', PLAYER_PAGE_CSP);
      kit.html(
        res,
        200,
        sessionPlayerPage({
          id: req.params.id,
          app: recording.app,
          speed: Number.isFinite(speed) && speed > 0 && speed <= 100 ? speed : 1,
        }),
      );
    } catch (err) {
      refusalPage(kit, res, err);
    }
  });

  router.get('/sessions/:id/recording.cast', async (req, res) => {
    const user = await signedIn(kit, authenticator, req);
    if (!user) return signInFirst(kit, res);
    let recording;
    try {
      recording = await openRecording(ctx, user, req.params.id, {
        clientIp: clientIp(req),
        mergeStderr: true,
      });
    } catch (err) {
      refusalPage(kit, res, err);
      return;
    }
    await streamRecording(ctx, res, req.params.id, recording);
  });

  return router;
}
