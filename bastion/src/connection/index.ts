export type {
  ActiveSession,
  AuthenticationStep,
  Carrier,
  ChannelSteps,
  ConnectionDeps,
  ConnectionRegistry,
  ConnectionScope,
  ConnectionState,
  LiveConnection,
  Transport,
} from './types.js';
export { createConnectionRegistry } from './registry.js';
export { directTransport, normalizeIp } from './transport.js';
