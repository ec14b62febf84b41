export type {
  ProxyEndpoint,
  ProxyHeader,
  ProxyHeaderProblem,
  ProxyParseOptions,
  ProxyParseResult,
} from './types.js';
export { MAX_V1_HEADER_BYTES, MAX_V2_HEADER_BYTES } from './types.js';
export { formatIp, parseProxyHeader } from './parse.js';
