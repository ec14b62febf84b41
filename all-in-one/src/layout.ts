/**
 * Where the all-in-one keeps its own files inside the shared data dir. The keys-service
 * (`ca/`, `tls/`, `keys-service.sqlite`, `web-secret`) and the local platform (`apps/`, `logs/`,
 * `config-vars/`, `run/`) own their parts; one data dir for all means the admin commands
 * (`neetodeploy-keys ... --data-dir DIR`) find the same store as the running server.
 */
import path from 'node:path';

export interface Layout {
  readonly dataDir: string;
  /** The access policy (YAML, hot-reloaded by the keys-service). */
  readonly policyFile: string;
  readonly hostKeyFile: string;
  /** Re-signed by the host CA on every start. */
  readonly hostCertificateFile: string;
  readonly logFile: string;
  /** The keys-service's TLS CA (made by the keys-service on first start). */
  readonly tlsCaFile: string;
  readonly userCaKeyFile: string;
  readonly hostCaKeyFile: string;
  /** Signs session recordings' manifests; outside `recordingsDir`, beside the CA keys. */
  readonly recordingKeyFile: string;
  /** Session recordings (the keys-service reads them from here by default). */
  readonly recordingsDir: string;
}

export function layoutOf(dataDir: string): Layout {
  const root = path.resolve(dataDir);
  return {
    dataDir: root,
    policyFile: path.join(root, 'policy.yaml'),
    hostKeyFile: path.join(root, 'bastion', 'ssh_host_ed25519_key'),
    hostCertificateFile: path.join(root, 'bastion', 'ssh_host_ed25519_key-cert.pub'),
    logFile: path.join(root, 'neetodeploy.log'),
    tlsCaFile: path.join(root, 'tls', 'ca.crt'),
    userCaKeyFile: path.join(root, 'ca', 'user_ca'),
    hostCaKeyFile: path.join(root, 'ca', 'host_ca'),
    recordingKeyFile: path.join(root, 'ca', 'recording_key'),
    recordingsDir: path.join(root, 'recordings'),
  };
}
