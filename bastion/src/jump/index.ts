export { handleDirectTcpip, type JumpDeps } from './direct-tcpip.js';
