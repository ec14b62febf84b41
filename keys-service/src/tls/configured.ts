/** The TLS material the config names: none (plain HTTP behind a proxy), files, or self-signed. */
import type { KeysServiceConfig } from '../config.js';
import { ensureLocalTls, loadTlsFiles } from './local-ca.js';
import type { TlsMaterial } from './local-ca.js';

/** Undefined for `tls.mode: none`. Self-signed material is made under the data dir once. */
export function loadConfiguredTls(
  config: Pick<KeysServiceConfig, 'tls' | 'dataDir'>,
): TlsMaterial | undefined {
  if (config.tls.mode === 'self-signed') return ensureLocalTls(config.dataDir);
  if (config.tls.mode === 'files') return loadTlsFiles(config.tls.certFile, config.tls.keyFile);
  return undefined;
}
