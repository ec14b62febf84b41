/** Audit lines of port forwards, beside the sessions' (`audit: true`, never key material). */
import type { Logger } from 'pino';
import { EVENTS } from '../events.js';
import type { ForwardAudit } from './types.js';

export function createForwardAudit(logger: Logger): ForwardAudit {
  const log = logger.child({ module: 'audit', audit: true });
  return {
    open(e) {
      log.info({ event: EVENTS.forwardOpen, ...e }, 'port forward open');
    },
    close(e) {
      log.info({ event: EVENTS.forwardClose, ...e }, 'port forward close');
    },
    refused(e) {
      log.warn({ event: EVENTS.forwardRefused, ...e }, 'port forward refused');
    },
  };
}
