/**
 * The keys-service HTTPS client: node:https trusting the CA file given at login (the embedded
 * default signs its certificate with its own CA), typed errors carrying the server's
 * `{ error: { code, message } }`, and every answer checked against the schemas of
 * `@neetodeploy/contract`, the ones the keys-service validates and answers with.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type {
  ApiErrorBody,
  AppEntry,
  CertificateRequest,
  ConfigVarsBody,
  ConfigVarsChangeRequest,
  IssuedCertificate,
  LoginSession,
  LoginSessionRequest,
  LoginToken,
  LoginTokenRequest,
  LogsQuery,
  Me,
  Processes,
  SessionEntry,
  SessionsQuery,
} from '@neetodeploy/contract';
import { API_PATHS } from '@neetodeploy/contract/api/paths';
import { ApiError, ConnectionError } from './errors.js';

/** What an answer is checked with: a zod schema of the contract (or any check with its shape). */
export interface AnswerSchema<T> {
  safeParse(
    data: unknown,
  ): { readonly success: true; readonly data: T } | { readonly success: false };
}

/**
 * The contract's zod schemas, loaded on first use and while the request is under way: zod is
 * the heaviest module of the client, and a command waits for it only when its answer is there
 * before zod is.
 */
function loadContract(): Promise<typeof import('@neetodeploy/contract')> {
  return import('@neetodeploy/contract');
}

/**
 * The two schemas `exec` needs, on their own: building every schema of the contract costs a
 * cold process about 40 ms, which `exec` would otherwise wait for after its certificate arrives.
 */
function loadCertificateSchema(): Promise<
  (typeof import('@neetodeploy/contract/api/certificates'))['certificateSchema']
> {
  return import('@neetodeploy/contract/api/certificates').then((m) => m.certificateSchema);
}
function loadErrorSchema(): Promise<
  (typeof import('@neetodeploy/contract/api/errors'))['apiErrorSchema']
> {
  return import('@neetodeploy/contract/api/errors').then((m) => m.apiErrorSchema);
}

/** `DELETE` answers: any body, or none. */
const ANY_ANSWER: AnswerSchema<unknown> = { safeParse: (data) => ({ success: true, data }) };

export type {
  AppEntry,
  ConfigVarsBody,
  IssuedCertificate,
  LoginSession,
  LoginToken,
  LogsQuery,
  Me,
} from '@neetodeploy/contract';

export interface ApiTarget {
  readonly apiUrl: string;
  /** PEM of the CA(s) to trust instead of the system store's. */
  readonly ca?: Buffer;
  readonly token?: string;
  readonly userAgent: string;
  /** Per-request timeout (not for streams). */
  readonly timeoutMs?: number;
  /** Where the token came from: a refused `NEETODEPLOY_TOKEN` is not fixed by `login`. */
  readonly tokenSource?: 'login' | 'environment';
  /** Where the API's address came from: what to change when it moved. */
  readonly apiUrlSource?: 'login' | 'environment';
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: T;
}

function capitalized(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

export class ApiClient {
  readonly target: ApiTarget;
  private readonly base: URL;

  constructor(target: ApiTarget) {
    this.target = target;
    let base: URL;
    try {
      base = new URL(target.apiUrl);
    } catch {
      throw new ConnectionError(
        `invalid API URL ${JSON.stringify(target.apiUrl)}: use https://HOST[:PORT]`,
      );
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new ConnectionError(`invalid API URL ${target.apiUrl}: use https://HOST[:PORT]`);
    }
    this.base = base;
  }

  get apiUrl(): string {
    return this.base.origin;
  }

  /** Sends a request; resolves with the raw response for any status (the caller decides). */
  private send(
    method: string,
    pathAndQuery: string,
    options: {
      body?: unknown;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      stream?: boolean;
    } = {},
  ): Promise<IncomingMessage> {
    const url = new URL(pathAndQuery, this.base);
    const payload =
      options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = {
      'User-Agent': this.target.userAgent,
      Accept: 'application/json',
      ...(this.target.token ? { Authorization: `Bearer ${this.target.token}` } : {}),
      ...(payload
        ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }
        : {}),
      ...options.headers,
    };
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, {
        method,
        headers,
        ...(url.protocol === 'https:' && this.target.ca ? { ca: this.target.ca } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!options.stream) {
        req.setTimeout(this.target.timeoutMs ?? 30_000, () => {
          req.destroy(
            new ConnectionError(
              `the API at ${this.apiUrl} did not answer in time: ${this.movedHint()}`,
            ),
          );
        });
      }
      req.on('response', resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectionError(err)));
      req.end(payload);
    });
  }

  /** What to do when the API is not (or no longer) where the client looks for it. */
  private movedHint(): string {
    return this.target.apiUrlSource === 'environment'
      ? 'if it moved, set NEETODEPLOY_API_URL to its new address'
      : 'if it moved (say, the all-in-one now runs on other ports), run `neetodeploy login --api URL` with its new address';
  }

  private connectionError(err: NodeJS.ErrnoException): Error {
    if (err instanceof ConnectionError || err.name === 'AbortError') return err;
    const code = err.code ?? '';
    if (TLS_TRUST_CODES.has(code)) {
      return new ConnectionError(
        `the TLS certificate of ${this.apiUrl} is not trusted (${code}): give the CA file the keys-service printed, with \`neetodeploy login --ca-file FILE\` or NEETODEPLOY_CA_FILE=FILE`,
        { cause: err },
      );
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new ConnectionError(`the TLS certificate of ${this.apiUrl} is for another host name`, {
        cause: err,
      });
    }
    if (
      code === 'ECONNREFUSED' ||
      code === 'ENOTFOUND' ||
      code === 'EHOSTUNREACH' ||
      code === 'ECONNRESET'
    ) {
      return new ConnectionError(
        `cannot reach the API at ${this.apiUrl} (${code}): is the keys-service running? ${capitalized(this.movedHint())}`,
        { cause: err },
      );
    }
    return new ConnectionError(
      `request to ${this.apiUrl} failed (${err.message}): is the keys-service still there? ${capitalized(this.movedHint())}`,
      { cause: err },
    );
  }

  private async readAll(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > 8 * 1024 * 1024) {
        res.destroy();
        throw new ConnectionError(`the answer from ${this.apiUrl} is too large`);
      }
      chunks.push(buf);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Turns a non-2xx response into an ApiError with the server's code and message. */
  private async failure(res: IncomingMessage): Promise<ApiError> {
    const status = res.statusCode ?? 0;
    const [text, apiErrorSchema] = await Promise.all([
      this.readAll(res).catch(() => ''),
      loadErrorSchema(),
    ]);
    let parsed: ApiErrorBody | undefined;
    try {
      const result = apiErrorSchema.safeParse(JSON.parse(text));
      if (result.success) parsed = result.data;
    } catch {
      parsed = undefined;
    }
    if (!parsed) {
      return new ApiError(status, `http_${status}`, `HTTP ${status}`, {
        message: `unexpected answer from ${this.apiUrl}: HTTP ${status}: is this the neetodeploy API? ${capitalized(this.movedHint())}`,
      });
    }
    const message =
      status === 401 && this.target.tokenSource === 'environment'
        ? `NEETODEPLOY_TOKEN was refused (${parsed.error.message.replace(/: run `neetodeploy login`.*$/, '')}): unset it to use your \`neetodeploy login\`, or replace it with a valid token`
        : parsed.error.message;
    return new ApiError(status, parsed.error.code, parsed.error.message, {
      message,
      ...(parsed.error.interval !== undefined ? { interval: parsed.error.interval } : {}),
    });
  }

  /**
   * JSON request; ApiError for non-2xx, ConnectionError when the body is not what `schema` says.
   * `schema` may be a promise: a contract schema then loads while the request is under way.
   */
  async json<T>(
    method: string,
    pathAndQuery: string,
    schema: AnswerSchema<T> | Promise<AnswerSchema<T>>,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const [res, check] = await Promise.all([this.send(method, pathAndQuery, options), schema]);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await this.failure(res);
    const text = await this.readAll(res);
    let data: unknown = undefined;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        throw new ConnectionError(
          `the answer from ${this.apiUrl}${pathAndQuery} is not JSON: is this the neetodeploy API? ${capitalized(this.movedHint())}`,
        );
      }
    }
    const result = check.safeParse(data);
    if (!result.success) {
      throw new ConnectionError(
        `unexpected answer from ${this.apiUrl}${pathAndQuery}: is this the neetodeploy API? ${capitalized(this.movedHint())}`,
      );
    }
    return { status, headers: res.headers, body: result.data };
  }

  async createLoginSession(input: {
    hostname: string;
    clientVersion: string;
  }): Promise<LoginSession> {
    const body: LoginSessionRequest = {
      hostname: input.hostname.slice(0, 253),
      client_version: input.clientVersion.slice(0, 64),
    };
    const schema = loadContract().then((c) => c.loginSessionSchema);
    return (await this.json('POST', API_PATHS.loginSessions, schema, { body })).body;
  }

  /** `replacesToken`: this CLI's previous token for the same API, revoked when the new one is issued. */
  async pollLoginToken(deviceCode: string, replacesToken?: string): Promise<LoginToken> {
    const { DEVICE_CODE_GRANT_TYPE, loginTokenSchema } = await loadContract();
    const body: LoginTokenRequest = {
      device_code: deviceCode,
      grant_type: DEVICE_CODE_GRANT_TYPE,
      ...(replacesToken !== undefined ? { replaces_token: replacesToken } : {}),
    };
    return (await this.json('POST', API_PATHS.loginToken, loginTokenSchema, { body })).body;
  }

  async me(): Promise<Me> {
    const schema = loadContract().then((c) => c.meSchema);
    return (await this.json('GET', API_PATHS.me, schema)).body;
  }

  async revokeToken(): Promise<void> {
    await this.json('DELETE', API_PATHS.currentToken, ANY_ANSWER);
  }

  async apps(): Promise<AppEntry[]> {
    const schema = loadContract().then((c) => c.appsSchema);
    return (await this.json('GET', API_PATHS.apps, schema)).body.apps;
  }

  async processes(app: string): Promise<Processes> {
    const schema = loadContract().then((c) => c.processesSchema);
    return (await this.json('GET', API_PATHS.processes(app), schema)).body;
  }

  async issueCertificate(input: {
    app: string;
    publicKey: string;
    process?: string;
  }): Promise<IssuedCertificate> {
    const body: CertificateRequest = {
      app: input.app,
      public_key: input.publicKey,
      ...(input.process !== undefined ? { process: input.process } : {}),
    };
    return (await this.json('POST', API_PATHS.certificates, loadCertificateSchema(), { body }))
      .body;
  }

  async getConfig(app: string): Promise<ConfigVarsBody> {
    const schema = loadContract().then((c) => c.configVarsSchema);
    return (await this.json('GET', API_PATHS.config(app), schema)).body;
  }

  async patchConfig(
    app: string,
    change: ConfigVarsChangeRequest,
    ifMatch?: string,
  ): Promise<ConfigVarsBody> {
    const { configVarsSchema, encodeVersionTag } = await loadContract();
    const headers: Record<string, string> =
      ifMatch !== undefined ? { 'If-Match': encodeVersionTag(ifMatch) } : {};
    return (
      await this.json('PATCH', API_PATHS.config(app), configVarsSchema, { body: change, headers })
    ).body;
  }

  /** The log stream's response body (NDJSON); ApiError before any line when refused. */
  async logs(app: string, query: LogsQuery, signal: AbortSignal): Promise<IncomingMessage> {
    const { NDJSON_MEDIA_TYPE, encodeLogsQuery } = await loadContract();
    const qs = encodeLogsQuery(query).toString();
    const res = await this.send('GET', `${API_PATHS.logs(app)}${qs ? `?${qs}` : ''}`, {
      headers: { Accept: NDJSON_MEDIA_TYPE },
      signal,
      stream: true,
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await this.failure(res);
    return res;
  }

  /** Recorded sessions of an app, newest first (`sessions:read`). */
  async sessions(app: string, query: SessionsQuery): Promise<SessionEntry[]> {
    const { SESSIONS_PATHS, encodeSessionsQuery, sessionsSchema } = await loadContract();
    const qs = encodeSessionsQuery(query).toString();
    const path = `${SESSIONS_PATHS.list(app)}${qs ? `?${qs}` : ''}`;
    return (await this.json('GET', path, sessionsSchema)).body.sessions;
  }

  /** A recording's asciicast v3 text as a stream; ApiError before any byte when refused. */
  async sessionRecording(id: string, signal: AbortSignal): Promise<IncomingMessage> {
    const { ASCIICAST_MEDIA_TYPE, SESSIONS_PATHS } = await loadContract();
    const res = await this.send('GET', SESSIONS_PATHS.recording(id), {
      headers: { Accept: ASCIICAST_MEDIA_TYPE },
      signal,
      stream: true,
    });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await this.failure(res);
    return res;
  }
}
