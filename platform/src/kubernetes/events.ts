/** Event names (pino `msg`) of the kubernetes platform, in one place for dashboards and tests. */
export const EVENTS = {
  started: 'kubernetes platform started',
  closed: 'kubernetes platform closed',
  consolePodCreated: 'console pod created',
  consolePodDeleted: 'console pod deleted',
  consolePodDeleteFailed: 'console pod could not be deleted',
  consoleStarted: 'console started',
  consoleEnded: 'console ended',
  signalFailed: 'signal could not be delivered',
  heartbeatFailed: 'console heartbeat failed',
  orphanReaped: 'orphan console pod deleted',
  reaperFailed: 'orphan reaper failed',
  configVarsChanged: 'config vars changed',
  configConflictRetry: 'config vars update lost a race; retrying',
  rollingRestart: 'rolling restart requested',
  logStreamFailed: 'log stream failed',
  portForwardOpened: 'port forward opened',
} as const;
