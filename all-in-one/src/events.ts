/** Log event names of the all-in-one (one place, so they stay greppable and stable). */
export const EVENTS = {
  started: 'all_in_one.started',
  stopping: 'all_in_one.stopping',
  stopped: 'all_in_one.stopped',
  stopFailed: 'all_in_one.stop_failed',
  policyCreated: 'all_in_one.policy_created',
  hostKeyCreated: 'all_in_one.host_key_created',
  recordingKeyCreated: 'all_in_one.recording_key_created',
  accountCreated: 'all_in_one.account_created',
  signal: 'all_in_one.signal',
} as const;
