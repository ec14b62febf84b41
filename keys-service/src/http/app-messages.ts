/**
 * Request and response classes whose objects are born with the express app's own prototypes.
 *
 * express's `app.handle` re-parents every request and response onto `app.request` and
 * `app.response` with `Object.setPrototypeOf`. In V8 that change of prototype on a live object
 * makes the young generation keep nearly everything a request allocated: at c=16 on one core a
 * bare express app promoted ~3.3 MB per scavenge (none for the same handler on `node:https`), so
 * scavenges took 10-25 ms and set the latency tail (issue 11). When the server constructs its
 * objects with these prototypes already, express's `setPrototypeOf` is a no-op.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

export interface AppMessageClasses {
  readonly IncomingMessage: typeof http.IncomingMessage;
  readonly ServerResponse: typeof http.ServerResponse;
}

/**
 * node:http's constructors are plain functions, so they are called on an object that already
 * has the app's prototype. `Reflect.construct(Base, args, Derived)` would say the same in one
 * line, but its objects kept the young generation just as full (1.2 MB promoted per scavenge,
 * half the requests per second), so it is not used here.
 */
type MessageConstructor = (this: object, ...args: unknown[]) => void;

export function appMessageClasses(app: Express): AppMessageClasses {
  const incoming = http.IncomingMessage as unknown as MessageConstructor;
  const response = http.ServerResponse as unknown as MessageConstructor;
  function AppRequest(this: object, socket: Socket): void {
    incoming.call(this, socket);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: object, req: http.IncomingMessage, options?: object): void {
    response.call(this, req, options);
  }
  AppResponse.prototype = app.response;
  return {
    IncomingMessage: AppRequest as unknown as typeof http.IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof http.ServerResponse,
  };
}
