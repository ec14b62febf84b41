export { Policy, PolicyError, PERMISSIONS, policySchema } from './policy.js';
export type { Permission, PolicyDocument, Subject, AppGrant } from './policy.js';
export { createPolicySource } from './watcher.js';
export type { PolicySource, PolicySourceOptions, PolicyReloadResult } from './watcher.js';
