import { stringify } from 'yaml';

/** A kubeconfig (v1 Config) for one user with a bearer token against the fake. */
export function kubeconfigYaml(opts: {
  server: string;
  caPem: string;
  username: string;
  token: string;
  namespace?: string;
}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'fake',
        cluster: {
          server: opts.server,
          'certificate-authority-data': Buffer.from(opts.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name: opts.username, user: { token: opts.token } }],
    contexts: [
      {
        name: 'fake',
        context: {
          cluster: 'fake',
          user: opts.username,
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
        },
      },
    ],
    'current-context': 'fake',
    preferences: {},
  });
}
