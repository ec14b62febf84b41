/**
 * `neetodeploy login`: the device flow of RFC 8628 against `/api/v1/login-sessions`. The URL
 * and code go to stderr (and the browser, when there is one); the token is stored 0600.
 */
import path from 'node:path';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Deps, CommandResult } from '../deps.js';
import { loadLastApi, saveCredentials, writeFileAtomic } from '../config.js';
import { ApiError, CancelledError, CliError, UsageError } from '../errors.js';
import { write } from '../io.js';
import { readCaFile } from '../session.js';
import { loadSshConfigRecord, otherApiWarning } from '../ssh-config-record.js';
import { startSpinner, stderrPaint } from '../terminal.js';

export interface LoginOptions {
  readonly api?: string;
  readonly caFile?: string;
  /** False with --no-browser. */
  readonly browser: boolean;
  /** Read an API token from stdin instead of signing in through the browser. */
  readonly withToken?: boolean;
}

async function readToken(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = Buffer.from(chunk as Buffer);
    size += buf.length;
    if (size > 64 * 1024) throw new UsageError('--with-token: stdin holds more than a token');
    chunks.push(buf);
  }
  const token = Buffer.concat(chunks).toString('utf8').trim();
  if (token === '' || /\s/.test(token)) {
    throw new UsageError(
      '--with-token: give one API token on stdin (echo "$TOKEN" | neetodeploy login --with-token)',
    );
  }
  return token;
}

function originOf(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
    return parsed.origin;
  } catch {
    throw new UsageError(`invalid API URL ${JSON.stringify(url)}: use https://HOST[:PORT]`);
  }
}

async function removeCachedCertificates(keysDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(keysDir);
  } catch {
    return;
  }
  await Promise.all(
    names
      // The certificates, and the bastion records `exec` keeps beside them.
      .filter((n) => n.endsWith('-cert.pub') || n.endsWith('-bastion.json'))
      .map((n) => fsp.rm(path.join(keysDir, n), { force: true })),
  );
}

interface NewLogin {
  readonly apiUrl: string;
  readonly caFile: string | undefined;
  readonly token: string;
  readonly email: string;
  readonly expiresAt: string;
}

/** Stores a new login (and a copy of its CA), and drops what the previous login left. */
async function storeLogin(deps: Deps, login: NewLogin): Promise<void> {
  const { io, config } = deps;
  let keptCa: string | undefined;
  if (login.caFile !== undefined) {
    // Keep our own copy: the CA file given may be in a data dir that moves or goes away.
    keptCa = path.join(config.dir, 'ca.pem');
    const pem = await readCaFile(login.caFile);
    if (path.resolve(login.caFile) !== keptCa) await writeFileAtomic(keptCa, pem, 0o600);
  } else {
    await fsp.rm(path.join(config.dir, 'ca.pem'), { force: true });
  }
  await saveCredentials(config, {
    apiUrl: login.apiUrl,
    token: login.token,
    email: login.email,
    ...(keptCa !== undefined ? { caFile: keptCa } : {}),
    expiresAt: login.expiresAt,
  });
  // Certificates cached for stock ssh were issued under the previous login, which may have
  // been revoked: they are stale now (ssh-cert also checks, by the credentials tag).
  await removeCachedCertificates(config.keysDir);
  await write(io.stderr, `Logged in as ${login.email} on ${login.apiUrl}\n`);
  const stale = otherApiWarning(await loadSshConfigRecord(config), login.apiUrl);
  if (stale !== undefined) await write(io.stderr, `${stderrPaint(io).hint(`Note: ${stale}`)}\n`);
  if (config.overrides.token !== undefined) {
    await write(
      io.stderr,
      'Note: NEETODEPLOY_TOKEN is set and takes precedence over this login.\n',
    );
  }
}

export async function runLogin(options: LoginOptions, deps: Deps): CommandResult {
  const { io, api, config } = deps;
  const stored = (await api.stored()) ?? (await loadLastApi(config));
  const given = options.api ?? config.overrides.apiUrl ?? stored?.apiUrl;
  if (!given) {
    throw new UsageError(
      'which API? pass --api https://HOST:PORT (the address `npm start` printed) and --ca-file FILE if it uses its own CA',
    );
  }
  const apiUrl = originOf(given);
  const caFile =
    options.caFile ??
    config.overrides.caFile ??
    (stored && originOf(stored.apiUrl) === apiUrl ? stored.caFile : undefined);
  const client = await api.anonymous(apiUrl, caFile);
  // The token this login replaces dies with it (never sent to another API, nor one from the
  // environment, which this CLI does not own).
  const previous = await api.stored();
  const replaces =
    previous && originOf(previous.apiUrl) === apiUrl && config.overrides.token === undefined
      ? previous.token
      : undefined;

  if (options.withToken) {
    const token = await readToken(io.stdin);
    const { ApiClient } = await import('../api.js');
    const me = await new ApiClient({ ...client.target, token }).me();
    await storeLogin(deps, {
      apiUrl,
      caFile,
      token,
      email: me.email,
      expiresAt: me.token.expires_at,
    });
    return;
  }

  const session = await client.createLoginSession({
    hostname: io.hostname,
    clientVersion: config.version,
  });
  const url = session.verification_uri_complete;
  await write(
    io.stderr,
    `To sign in, open this page and check that it shows the code ${session.user_code}:\n\n  ${url}\n\n`,
  );
  if (options.browser && io.canOpenBrowser) {
    await io
      .openBrowser(url)
      .catch(() => write(io.stderr, 'Could not open a browser: open the page yourself.\n'));
  }
  await write(
    io.stderr,
    `${stderrPaint(io).hint('Waiting for you to approve this sign-in in the browser (Ctrl-C to cancel)...')}\n`,
  );

  const abort = new AbortController();
  const stopListening = io.onInterrupt(() => abort.abort(new CancelledError('login cancelled')));
  const spinner = startSpinner(io, 'waiting for approval...');
  try {
    let interval = session.interval;
    const deadline = Date.now() + session.expires_in * 1000;
    for (;;) {
      await io.sleep(interval * 1000, abort.signal);
      if (Date.now() > deadline + interval * 1000) {
        throw new CliError(
          'the sign-in expired before it was approved: run `neetodeploy login` again',
        );
      }
      let token;
      try {
        token = await client.pollLoginToken(session.device_code, replaces);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.code === 'authorization_pending') continue;
        if (err.code === 'slow_down') {
          interval = err.interval ?? interval + 5;
          continue;
        }
        if (err.code === 'expired_token') {
          throw new CliError(
            'the sign-in expired before it was approved: run `neetodeploy login` again',
          );
        }
        if (err.code === 'access_denied')
          throw new CliError('the sign-in was denied in the browser');
        throw err;
      }
      spinner.stop();
      await storeLogin(deps, {
        apiUrl,
        caFile,
        token: token.access_token,
        email: token.email,
        expiresAt: token.expires_at,
      });
      return;
    }
  } catch (err) {
    if (abort.signal.aborted) throw abort.signal.reason as Error;
    throw err;
  } finally {
    spinner.stop();
    stopListening();
  }
}
