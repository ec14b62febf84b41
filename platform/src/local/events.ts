/** Event names (pino `msg`) of the local platform, in one place for dashboards and tests. */
export const EVENTS = {
  started: 'local platform started',
  closed: 'local platform closed',
  demoAppCreated: 'demo app created',
  processStarted: 'app process started',
  processCrashed: 'app process crashed',
  processSpawnFailed: 'app process could not be started',
  appRestarting: 'app restarting',
  configVarsChanged: 'config vars changed',
  consoleStarted: 'console started',
  consoleEnded: 'console ended',
  portForwardOpened: 'port forward opened',
  scanFailed: 'app scan failed',
  orphanStopped: 'process left by a previous server stopped',
  runFileFailed: 'run file could not be written',
  logWriteFailed: 'log line could not be written',
  isolationUnavailable: 'apps are not isolated from the server: no root and no bubblewrap',
} as const;
