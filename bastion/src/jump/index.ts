export { handleDirectTcpip, jumpTarget, type JumpDeps } from './direct-tcpip.js';
