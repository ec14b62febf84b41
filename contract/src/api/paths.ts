/** Where each endpoint of the keys-service API lives; app names are URL-encoded. */

export const API_PREFIX = '/api/v1';

export const API_PATHS = {
  loginSessions: `${API_PREFIX}/login-sessions`,
  loginToken: `${API_PREFIX}/login-sessions/token`,
  me: `${API_PREFIX}/me`,
  currentToken: `${API_PREFIX}/tokens/current`,
  apps: `${API_PREFIX}/apps`,
  certificates: `${API_PREFIX}/certificates`,
  ca: `${API_PREFIX}/ca`,
  config: (app: string): string => `${API_PREFIX}/apps/${encodeURIComponent(app)}/config`,
  logs: (app: string): string => `${API_PREFIX}/apps/${encodeURIComponent(app)}/logs`,
  processes: (app: string): string => `${API_PREFIX}/apps/${encodeURIComponent(app)}/processes`,
} as const;
