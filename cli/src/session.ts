/**
 * Which API and token a command uses: `NEETODEPLOY_TOKEN` / `NEETODEPLOY_API_URL` /
 * `NEETODEPLOY_CA_FILE` first (scripts, CI), then what `login` stored.
 */
import fsp from 'node:fs/promises';
import type { ApiClient } from './api.js';
import { credentialTag } from './cert-cache.js';
import type { CliConfig, Credentials } from './config.js';
import { loadCredentials } from './config.js';
import { CliError, NotLoggedInError } from './errors.js';

export interface Session {
  readonly client: ApiClient;
  /** Known when the token came from `login`; tokens from the environment need `whoami`. */
  readonly email?: string;
  readonly fromEnvironment: boolean;
}

export interface ApiProvider {
  /** The logged-in client; NotLoggedInError when there is no token. */
  session(): Promise<Session>;
  /** The stored credentials, if any (logout, login's "already logged in"). */
  stored(): Promise<Credentials | undefined>;
  /** A client without a token (login). */
  anonymous(apiUrl: string, caFile?: string): Promise<ApiClient>;
  /**
   * The tag of the API and token in use (see cert-cache.ts), without loading the HTTP client;
   * undefined when not logged in.
   */
  credentialTag(): Promise<string | undefined>;
}

/** The API URL and token in use: the environment's first, then what `login` stored. */
function currentCredentials(
  config: CliConfig,
  stored: Credentials | undefined,
): { apiUrl?: string; token?: string } {
  const token = config.overrides.token ?? stored?.token;
  const apiUrl = config.overrides.apiUrl ?? stored?.apiUrl;
  return { ...(apiUrl ? { apiUrl } : {}), ...(token ? { token } : {}) };
}

/** {@link ApiProvider.credentialTag}, for the start-up fast path too. */
export async function currentCredentialTag(config: CliConfig): Promise<string | undefined> {
  const stored = await loadCredentials(config).catch(() => undefined);
  const { apiUrl, token } = currentCredentials(config, stored);
  return apiUrl !== undefined && token !== undefined ? credentialTag(apiUrl, token) : undefined;
}

export async function readCaFile(file: string): Promise<Buffer> {
  try {
    const pem = await fsp.readFile(file);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CliError(`${file} is not a PEM certificate file`);
    }
    return pem;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read the CA file ${file}: ${(err as Error).message}`);
  }
}

export function createApiProvider(config: CliConfig): ApiProvider {
  const userAgent = `neetodeploy-cli/${config.version}`;
  const make = async (
    apiUrl: string,
    caFile: string | undefined,
    token?: string,
    tokenSource?: 'login' | 'environment',
  ): Promise<ApiClient> => {
    const apiUrlSource = config.overrides.apiUrl !== undefined ? 'environment' : 'login';
    const ca = caFile !== undefined ? await readCaFile(caFile) : undefined;
    // Loaded here, not at start-up: the HTTP client and the API schemas (zod) are the heaviest
    // modules of the CLI, and `--version` or a cached `ssh-cert` never needs them.
    const { ApiClient } = await import('./api.js');
    return new ApiClient({
      apiUrl,
      userAgent,
      ...(ca ? { ca } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(tokenSource !== undefined ? { tokenSource } : {}),
      apiUrlSource,
    });
  };
  return {
    stored: () => loadCredentials(config),
    anonymous: (apiUrl, caFile) => make(apiUrl, caFile),
    credentialTag: () => currentCredentialTag(config),
    async session() {
      const { overrides } = config;
      const stored = await loadCredentials(config);
      const { token, apiUrl } = currentCredentials(config, stored);
      if (!token) throw new NotLoggedInError();
      if (!apiUrl) {
        throw new NotLoggedInError(
          'NEETODEPLOY_TOKEN is set but not the API: set NEETODEPLOY_API_URL too, or run `neetodeploy login`',
        );
      }
      // A stored CA belongs to the stored API; another API from the environment brings its own.
      const sameApi = stored !== undefined && stored.apiUrl === apiUrl;
      const caFile = overrides.caFile ?? (sameApi ? stored.caFile : undefined);
      const fromEnvironment = overrides.token !== undefined;
      return {
        client: await make(apiUrl, caFile, token, fromEnvironment ? 'environment' : 'login'),
        fromEnvironment,
        ...(!fromEnvironment && stored ? { email: stored.email } : {}),
      };
    },
  };
}
