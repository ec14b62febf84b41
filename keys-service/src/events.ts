/** Log and audit event names of the keys-service, in one place. */
export const EVENTS = {
  started: 'keys.started',
  stopped: 'keys.stopped',
  tls: 'keys.tls',
  request: 'keys.request',
  requestFailed: 'keys.request_failed',
  loginSessionCreated: 'login_session.created',
  loginSessionApproved: 'login_session.approved',
  loginSessionDenied: 'login_session.denied',
  tokenIssued: 'token.issued',
  tokenRevoked: 'token.revoked',
  signInFailed: 'sign_in.failed',
  signedIn: 'sign_in.ok',
  certificateIssued: 'certificate.issued',
  userRevoked: 'user.revoked',
  userAdded: 'user.added',
} as const;
