import type { Logger } from 'pino';
import { EVENTS } from './events.js';

/** One JSON line per authentication result and per session; never key material. */
export interface Audit {
  auth(event: {
    connectionId: string;
    ip: string;
    username: string;
    method: string;
    result: 'success' | 'failure';
    reason?: string;
    user?: string;
    keyId?: string;
    serial?: bigint;
    kind: 'direct' | 'jump';
  }): void;
  sessionStart(event: {
    connectionId: string;
    sessionId: string;
    user: string;
    keyId: string;
    app: string;
    target: string;
    command: string | null;
    pty: boolean;
    ip: string;
    kind: 'direct' | 'jump';
  }): void;
  sessionEnd(event: {
    connectionId: string;
    sessionId: string;
    user: string;
    app: string;
    target: string;
    where?: string;
    exitCode?: number;
    exitSignal?: string;
    bytesIn: number;
    bytesOut: number;
    durationMs: number;
    error?: string;
  }): void;
}

export function createAudit(logger: Logger): Audit {
  const log = logger.child({ module: 'audit', audit: true });
  return {
    auth(e) {
      log.info(
        { event: EVENTS.authResult, ...e, serial: e.serial?.toString() },
        `auth ${e.result}`,
      );
    },
    sessionStart(e) {
      log.info({ event: EVENTS.sessionStart, ...e }, 'session start');
    },
    sessionEnd(e) {
      log.info({ event: EVENTS.sessionEnd, ...e }, 'session end');
    },
  };
}
