/** What the CLI, the bastion and the keys-service agree on. */
export const CONTRACT_VERSION = 1;
