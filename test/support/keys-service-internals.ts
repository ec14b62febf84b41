/**
 * What the keys-service tests import, in one place so a refactor breaks one import.
 */
export * from '@neetodeploy/keys-service';
export { addUser as addUserForTests } from '@neetodeploy/keys-service';
