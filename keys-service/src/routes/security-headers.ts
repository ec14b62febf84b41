/**
 * The security headers on every response (helmet with a strict CSP). Helmet's headers for these
 * options are constants (no nonces, no per-request directives), so they are recorded once and
 * set in one loop: running its thirteen middlewares on every request cost more than the rest of
 * the request routing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

type HeaderMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

function recordStaticHeaders(middleware: HeaderMiddleware): readonly (readonly [string, string])[] {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: string | number): void {
      headers.set(name, String(value));
    },
    removeHeader(name: string): void {
      headers.delete(name);
    },
  };
  let finished = false;
  let failure: unknown;
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    failure = err;
    finished = true;
  });
  if (!finished || failure !== undefined) {
    throw new Error('security headers middleware did not finish synchronously', {
      cause: failure,
    });
  }
  return [...headers];
}

export const SECURITY_HEADERS = recordStaticHeaders(
  helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
  }),
);

/** The same headers as one flat `[name, value, name, value...]` list for `writeHead`. */
export const SECURITY_HEADER_LIST: readonly string[] = SECURITY_HEADERS.flat();

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
}
