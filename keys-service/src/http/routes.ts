/**
 * The routes an express app serves, read from its router stack: what the metrics label test
 * walks so that a route added without a test case fails it. Express has no public listing;
 * this reads router 2's layers (`route`, `rawPath`, nested `handle.stack`) and nothing else.
 */
import type { Express } from 'express';
import { routeLabel } from './metrics.js';

export interface ServedRoute {
  /** Upper-case method, e.g. `PATCH`. */
  readonly method: string;
  /** The metrics label of the route, e.g. `/api/v1/apps/:app/config`. */
  readonly route: string;
}

interface RouterLayer {
  readonly rawPath?: unknown;
  readonly route?: { readonly path: unknown; readonly methods: Record<string, boolean> };
  readonly handle?: { readonly stack?: readonly RouterLayer[] };
}

function walk(stack: readonly RouterLayer[], base: string, out: ServedRoute[]): void {
  for (const layer of stack) {
    if (layer.route && typeof layer.route.path === 'string') {
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') {
          out.push({ method: method.toUpperCase(), route: routeLabel(base, layer.route.path) });
        }
      }
    } else if (layer.handle?.stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      walk(layer.handle.stack, `${base}${mount}`, out);
    }
  }
}

export function listRoutes(app: Express): readonly ServedRoute[] {
  const out: ServedRoute[] = [];
  walk((app.router as unknown as { stack: readonly RouterLayer[] }).stack, '', out);
  return out;
}
