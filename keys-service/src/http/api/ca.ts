/** `GET /ca`: the CA bundle the bastions poll, with an ETag so an unchanged bundle is a 304. */
import express from 'express';
import type { Router } from 'express';
import { createCaBundleSource } from '../../domain/index.js';
import type { DomainContext } from '../../domain/index.js';

export function createCaRouter(ctx: DomainContext): Router {
  const router = express.Router();
  const caBundle = createCaBundleSource(ctx);

  router.get('/ca', async (req, res) => {
    const { bundle, etag } = await caBundle();
    res.set('ETag', etag);
    res.set('Cache-Control', 'no-cache');
    const inm = req.get('if-none-match');
    const matches = (t: string): boolean => t === '*' || t === etag || t === `W/${etag}`;
    if (inm && inm.split(',').some((t) => matches(t.trim()))) {
      res.status(304).end();
      return;
    }
    res.json(bundle);
  });

  return router;
}
