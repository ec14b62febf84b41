import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { TokenAuthenticator } from './auth.js';
import {
  AGGREGATED_DISCOVERY_TYPE,
  aggregatedDiscovery,
  wantsAggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  openApiV3Document,
  openApiV3Index,
  versionInfo,
} from './discovery.js';
import type { AdmissionController, AdmissionOperation } from './admission.js';
import type { ExecManager } from './exec.js';
import { parsePorts, PORT_FORWARD_PROTOCOLS, type PortForwardManager } from './portforward.js';
import { decodeBody, readBody, sendJson, sendStatus } from './http.js';
import type { Kubelet } from './kubelet.js';
import type { LogBook, LogQuery } from './logs.js';
import { applyPatch, patchTypeOf } from './patch.js';
import { ObjectWriter } from './objects.js';
import { containerEnv, containerState, pickContainer, podDir } from './pods.js';
import { accessReview, forbiddenFor, type RbacAuthorizer, type RequestAttributes } from './rbac.js';
import {
  acceptsJson,
  attributesFor,
  boolParam,
  includeObjectOf,
  intParam,
  parseRoute,
  resolveRoute,
  verbFor,
  wantsTable,
  type Route,
} from './routing.js';
import { apiVersionOf, resourceByKey, resourceKey, type ResourceInfo } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import {
  asStatusError,
  badRequest,
  conflict,
  methodNotAllowed,
  notAcceptable,
  pathNotFound,
  STALE_OBJECT,
  unauthorized,
} from './status.js';
import type { ObjectStore } from './store.js';
import { toTable } from './table.js';
import type { FakeLogger, KubeObject, RequestRecord, UserInfo } from './types.js';
import { str, type Rec } from './json.js';

export interface ApiHandlerDeps {
  store: ObjectStore;
  auth: TokenAuthenticator;
  rbac: RbacAuthorizer;
  /** Validating admission (policies and Pod Security) on writes made through the API. */
  admission: AdmissionController;
  kubelet: Kubelet;
  logs: LogBook;
  execs: ExecManager;
  forwards: PortForwardManager;
  dataDir: string;
  serverAddress: () => string;
  gitVersion: string;
  execProtocols: readonly string[];
  /** Environment every exec'd process starts from (PATH and the like). */
  execBaseEnv: Record<string, string>;
  bookmarkIntervalMs: number;
  logger: FakeLogger | undefined;
  requests: RequestRecord[];
}

const PODS = resourceByKey('pods');
const MAX_REQUEST_LOG = 5000;

/**
 * The HTTP side of the fake: authentication, RBAC, discovery, REST on the store, watch,
 * `pods/log` and the `pods/exec` websocket upgrade.
 */
export class ApiHandler {
  private readonly wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols: Set<string>) => this.pickProtocol([...protocols]) ?? false,
  });
  // Port-forward subprotocols differ from exec's; an unnamed protocol is the binary one.
  private readonly forwardWss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols: Set<string>) =>
      [...protocols]
        .map((p) => p.trim())
        .find((p) => PORT_FORWARD_PROTOCOLS.includes(p as never)) ?? false,
  });
  private readonly streams = new Set<ServerResponse>();

  private readonly writer: ObjectWriter;

  constructor(private readonly d: ApiHandlerDeps) {
    this.writer = new ObjectWriter(d.store, d.kubelet);
  }

  /** Creates an object as the API would, bypassing RBAC (the test hooks' path). */
  createObject(info: ResourceInfo, namespace: string, body: KubeObject): KubeObject {
    return this.writer.create(info, namespace, body);
  }

  /** Ends open watches and log streams (server shutdown). */
  closeStreams(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    for (const client of this.forwardWss.clients) client.terminate();
    this.forwardWss.close();
  }

  private pickProtocol(offered: string[]): string | undefined {
    return offered.map((p) => p.trim()).find((p) => this.d.execProtocols.includes(p));
  }

  private record(
    req: IncomingMessage,
    url: URL,
    user: UserInfo | undefined,
    verb: string | undefined,
    status: number,
  ): void {
    const r: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      user: user?.username,
      verb,
      status,
      userAgent: req.headers['user-agent'],
    };
    this.d.requests.push(r);
    if (this.d.requests.length > MAX_REQUEST_LOG)
      this.d.requests.splice(0, this.d.requests.length - MAX_REQUEST_LOG);
    this.d.logger?.debug({ ...r }, 'request');
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    let user: UserInfo | undefined;
    let verb: string | undefined;
    res.on('finish', () => this.record(req, url, user, verb, res.statusCode));
    const run = async (): Promise<void> => {
      user = this.d.auth.authenticate(req.headers.authorization);
      if (!user) throw unauthorized();
      if (!acceptsJson(req.headers.accept)) throw notAcceptable(req.headers.accept ?? '');
      const segments = url.pathname
        .split('/')
        .filter((s) => s.length > 0)
        .map(decodeURIComponent);
      const route = parseRoute(segments);
      const resourceRoute =
        route && route.rest.length > 0
          ? resolveRoute(route.group, route.version, route.rest)
          : undefined;
      if (!resourceRoute) {
        verb = (req.method ?? 'GET').toLowerCase();
        this.authorizeOrThrow(
          {
            user,
            verb,
            resourceRequest: false,
            namespace: '',
            apiGroup: '',
            resource: '',
            subresource: '',
            name: '',
            path: url.pathname,
          },
          undefined,
        );
        this.serveNonResource(req, res, url, segments);
        return;
      }
      verb = verbFor(req.method ?? 'GET', resourceRoute, url.searchParams);
      const attrs = attributesFor(user, verb, resourceRoute, url.searchParams);
      if (resourceRoute.subresource === 'exec' || resourceRoute.subresource === 'portforward') {
        // Exec and port-forward only work as an upgrade; plain requests get what the real server answers.
        this.authorizeOrThrow(attrs, resourceRoute.info);
        throw badRequest('Upgrade request required');
      }
      this.authorizeOrThrow(attrs, resourceRoute.info);
      await this.serveResource(req, res, url, resourceRoute, verb, user);
    };
    run().catch((err: unknown) => {
      const status = asStatusError(err);
      if (status.code >= 500)
        this.d.logger?.warn({ err: status.message, path: url.pathname }, 'request failed');
      sendStatus(res, status);
    });
  }

  private admit(
    operation: AdmissionOperation,
    route: Route,
    user: UserInfo,
    object: KubeObject | null,
    oldObject: KubeObject | null,
    dryRun: boolean,
  ): void {
    this.d.admission.admit({
      operation,
      info: route.info,
      subresource: route.subresource,
      namespace: route.namespace,
      name: route.name || (object?.metadata?.name ?? ''),
      user,
      object,
      oldObject,
      dryRun,
    });
  }

  private authorizeOrThrow(attrs: RequestAttributes, info: ResourceInfo | undefined): void {
    if (!this.d.rbac.authorize(attrs).allowed) throw forbiddenFor(attrs, info);
  }

  private serveNonResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    seg: string[],
  ): void {
    if (req.method !== 'GET') throw methodNotAllowed();
    const p = url.pathname.replace(/\/+$/, '') || '/';
    if (p === '/version') return sendJson(res, 200, versionInfo(this.d.gitVersion));
    if (p === '/healthz' || p === '/livez' || p === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    if ((p === '/api' || p === '/apis') && wantsAggregatedDiscovery(req.headers.accept)) {
      return sendJson(res, 200, aggregatedDiscovery(p === '/api'), AGGREGATED_DISCOVERY_TYPE);
    }
    if (p === '/api') return sendJson(res, 200, apiVersions(this.d.serverAddress()));
    if (p === '/apis') return sendJson(res, 200, apiGroupList());
    if (p === '/openapi/v3') return sendJson(res, 200, openApiV3Index());
    if (seg[0] === 'openapi' && seg[1] === 'v3') {
      const doc = openApiV3Document(seg.slice(2).join('/'));
      if (doc) return sendJson(res, 200, doc);
      throw pathNotFound();
    }
    if (seg[0] === 'api' && seg.length === 2) {
      const list = apiResourceList('', seg[1]!);
      if (list) return sendJson(res, 200, list);
    }
    if (seg[0] === 'apis' && seg.length === 2) {
      const g = apiGroup(seg[1]!);
      if (g) return sendJson(res, 200, g);
    }
    if (seg[0] === 'apis' && seg.length === 3) {
      const list = apiResourceList(seg[1]!, seg[2]!);
      if (list) return sendJson(res, 200, list);
    }
    throw pathNotFound();
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Route,
    verb: string,
    user: UserInfo,
  ): Promise<void> {
    const q = url.searchParams;
    const { info } = route;
    if (info.virtual) {
      if (verb !== 'create') throw methodNotAllowed();
      const body = decodeBody(await readBody(req), req.headers['content-type']) as KubeObject;
      return sendJson(res, 201, accessReview(this.d.rbac, info, body, user));
    }
    if (route.subresource === 'log') {
      if (verb !== 'get') throw methodNotAllowed();
      return this.serveLog(req, res, route, q);
    }
    switch (verb) {
      case 'get': {
        const obj = this.d.store.mustGet(info, route.namespace, route.name);
        if (wantsTable(req.headers.accept)) {
          return sendJson(
            res,
            200,
            toTable(
              resourceKey(info),
              [obj],
              { resourceVersion: obj.metadata?.resourceVersion ?? '' },
              includeObjectOf(q),
            ),
          );
        }
        return sendJson(res, 200, obj);
      }
      case 'list':
        return this.serveList(req, res, route, q);
      case 'watch':
        return this.serveWatch(req, res, route, q);
      case 'create': {
        if (route.name) throw methodNotAllowed();
        const body = decodeBody(await readBody(req), req.headers['content-type']) as KubeObject;
        const dryRun = boolParam(q, 'dryRun') || q.get('dryRun') === 'All';
        return sendJson(
          res,
          201,
          this.writer.create(info, route.namespace, body, dryRun, (object) =>
            this.admit('CREATE', route, user, object, null, dryRun),
          ),
        );
      }
      case 'update': {
        const body = decodeBody(await readBody(req), req.headers['content-type']) as KubeObject;
        const dryRun = q.get('dryRun') === 'All';
        return sendJson(
          res,
          200,
          this.writer.update(route, body, dryRun, (object, old) =>
            this.admit('UPDATE', route, user, object, old, dryRun),
          ),
        );
      }
      case 'patch': {
        const type = patchTypeOf(req.headers['content-type']);
        const patch = decodeBody(await readBody(req), 'application/json');
        const current = this.d.store.mustGet(info, route.namespace, route.name);
        const patched = applyPatch(type, current, patch) as KubeObject;
        const sentRv = patched.metadata?.resourceVersion;
        if (sentRv && sentRv !== current.metadata?.resourceVersion)
          throw conflict(info, route.name, STALE_OBJECT);
        patched.metadata = {
          ...patched.metadata,
          name: route.name,
          resourceVersion: current.metadata?.resourceVersion,
        };
        if (info.namespaced) patched.metadata.namespace = route.namespace;
        const dryRun = q.get('dryRun') === 'All';
        return sendJson(
          res,
          200,
          this.writer.update(route, patched, dryRun, (object, old) =>
            this.admit('UPDATE', route, user, object, old, dryRun),
          ),
        );
      }
      case 'delete': {
        let options: Rec = {};
        const raw = await readBody(req);
        if (raw.length > 0) options = decodeBody(raw, req.headers['content-type']) as Rec;
        const grace =
          intParam(q, 'gracePeriodSeconds') ?? (options.gracePeriodSeconds as number | undefined);
        const rv = (options.preconditions as Rec | undefined)?.resourceVersion as
          string | undefined;
        const dryRun = q.get('dryRun') === 'All';
        return sendJson(
          res,
          200,
          this.writer.delete(route, grace, rv, dryRun, (old) =>
            this.admit('DELETE', route, user, null, old, dryRun),
          ),
        );
      }
      case 'deletecollection': {
        const items = this.selectItems(route, q);
        for (const item of items) {
          const one = {
            ...route,
            namespace: item.metadata?.namespace ?? '',
            name: item.metadata?.name ?? '',
          };
          this.writer.delete(one, 0, undefined, false, (old) =>
            this.admit('DELETE', one, user, null, old, false),
          );
        }
        return sendJson(res, 200, {
          kind: `${info.kind}List`,
          apiVersion: apiVersionOf(info),
          metadata: { resourceVersion: String(this.d.store.currentRevision()) },
          items,
        });
      }
      default:
        throw methodNotAllowed();
    }
  }

  private selectItems(route: Route, q: URLSearchParams): KubeObject[] {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'), resourceKey(route.info));
    const ns = route.info.namespaced && route.namespace ? route.namespace : undefined;
    return this.d.store
      .list(route.info, ns)
      .filter((o) => labels.matches(o.metadata?.labels) && fields.matches(o));
  }

  private serveList(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    q: URLSearchParams,
  ): void {
    const all = this.selectItems(route, q);
    const rv = String(this.d.store.currentRevision());
    let start = 0;
    const cont = q.get('continue');
    if (cont) {
      try {
        start = (JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { start: number })
          .start;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
    }
    const limit = intParam(q, 'limit');
    const end = limit && limit > 0 ? start + limit : all.length;
    const items = all.slice(start, end);
    const listMeta: Record<string, string> = { resourceVersion: rv };
    if (end < all.length) {
      listMeta.continue = Buffer.from(JSON.stringify({ start: end, rv })).toString('base64url');
      listMeta.remainingItemCount = String(all.length - end);
    }
    if (wantsTable(req.headers.accept)) {
      return sendJson(
        res,
        200,
        toTable(resourceKey(route.info), items, listMeta, includeObjectOf(q)),
      );
    }
    const meta: Rec = { resourceVersion: rv };
    if (listMeta.continue) {
      meta.continue = listMeta.continue;
      meta.remainingItemCount = all.length - end;
    }
    sendJson(res, 200, {
      kind: `${route.info.kind}List`,
      apiVersion: apiVersionOf(route.info),
      metadata: meta,
      items,
    });
  }

  private serveWatch(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    q: URLSearchParams,
  ): void {
    const { info } = route;
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'), resourceKey(info));
    const rvParam = q.get('resourceVersion');
    const sendInitial = boolParam(q, 'sendInitialEvents');
    const bookmarks = boolParam(q, 'allowWatchBookmarks');
    const table = wantsTable(req.headers.accept);
    const include = includeObjectOf(q);
    const timeoutSeconds = intParam(q, 'timeoutSeconds');
    const fromRv = rvParam && rvParam !== '0' && !sendInitial ? Number(rvParam) : undefined;
    if (fromRv !== undefined && !Number.isInteger(fromRv))
      throw badRequest(`invalid resource version: "${rvParam}"`);

    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    // Clients wait for the headers before they consider the watch established.
    res.flushHeaders();
    this.streams.add(res);
    const render = (obj: KubeObject): unknown =>
      table
        ? toTable(
            resourceKey(info),
            [obj],
            { resourceVersion: obj.metadata?.resourceVersion ?? '' },
            include,
          )
        : obj;
    const write = (type: string, object: unknown): void => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const bookmark = (extra: Rec = {}): void => {
      write('BOOKMARK', {
        kind: info.kind,
        apiVersion: apiVersionOf(info),
        metadata: { resourceVersion: String(this.d.store.currentRevision()), ...extra },
      });
    };
    const filter = {
      key: resourceKey(info),
      namespace: info.namespaced && route.namespace ? route.namespace : undefined,
      matches: (o: KubeObject) => labels.matches(o.metadata?.labels) && fields.matches(o),
    };
    let stop: () => void = () => undefined;
    const timers: NodeJS.Timeout[] = [];
    const cleanup = (): void => {
      stop();
      for (const t of timers) clearTimeout(t);
      this.streams.delete(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
    try {
      if (fromRv === undefined) {
        for (const obj of this.d.store.list(info, filter.namespace))
          if (filter.matches(obj)) write('ADDED', render(obj));
        if (sendInitial && bookmarks)
          bookmark({ annotations: { 'k8s.io/initial-events-end': 'true' } });
      }
      stop = this.d.store.watch(filter, fromRv, (type, obj) => write(type, render(obj)));
    } catch (err) {
      const status = asStatusError(err);
      write('ERROR', status.status);
      res.end();
      cleanup();
      return;
    }
    if (bookmarks) {
      const t = setInterval(() => bookmark(), this.d.bookmarkIntervalMs);
      t.unref();
      timers.push(t);
    }
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) {
      const t = setTimeout(() => {
        res.end();
        cleanup();
      }, timeoutSeconds * 1000);
      t.unref();
      timers.push(t);
    }
  }

  private serveLog(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    q: URLSearchParams,
  ): void {
    const pod = this.d.store.mustGet(PODS, route.namespace, route.name);
    const container = pickContainer(pod, q.get('container'));
    const previous = boolParam(q, 'previous');
    const state = containerState(pod, container);
    if (previous && !this.d.logs.hasPrevious(route.namespace, route.name, container)) {
      throw badRequest(
        `previous terminated container "${container}" in pod "${route.name}" not found`,
      );
    }
    if (!previous && state.waiting !== undefined) {
      throw badRequest(
        `container "${container}" in pod "${route.name}" is waiting to start: ${state.waiting}`,
      );
    }
    const sinceSeconds = intParam(q, 'sinceSeconds');
    const sinceTime = q.get('sinceTime');
    if (sinceSeconds !== undefined && sinceTime)
      throw badRequest('at most one of `sinceTime` or `sinceSeconds` may be specified');
    const query: LogQuery = {
      follow: boolParam(q, 'follow'),
      previous,
      timestamps: boolParam(q, 'timestamps'),
      tailLines: intParam(q, 'tailLines'),
      since:
        sinceSeconds !== undefined
          ? Date.now() - sinceSeconds * 1000
          : sinceTime
            ? Date.parse(sinceTime)
            : undefined,
      limitBytes: intParam(q, 'limitBytes'),
    };
    if (query.since !== undefined && Number.isNaN(query.since))
      throw badRequest(`invalid sinceTime: "${sinceTime ?? ''}"`);
    res.writeHead(200, {
      'Content-Type': 'text/plain',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    this.streams.add(res);
    const cancel = this.d.logs.open(
      route.namespace,
      route.name,
      container,
      query,
      state.running && !pod.metadata?.deletionTimestamp,
      {
        write: (chunk) => res.writableEnded || res.write(chunk),
        onDrain: (callback) => res.once('drain', callback),
        end: () => {
          this.streams.delete(res);
          res.end();
        },
      },
    );
    res.on('close', cancel);
  }

  /** The `upgrade` event: authn, authz (get and create on pods/exec), checks, then websocket. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    let user: UserInfo | undefined;
    const reject = (err: unknown): void => {
      const status = asStatusError(err);
      const body = JSON.stringify(status.status);
      this.record(req, url, user, 'get', status.code);
      socket.end(
        `HTTP/1.1 ${status.code} ${httpReason(status.code)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    try {
      user = this.d.auth.authenticate(req.headers.authorization);
      if (!user) throw unauthorized();
      const segments = url.pathname
        .split('/')
        .filter((s) => s.length > 0)
        .map(decodeURIComponent);
      const r = parseRoute(segments);
      const route = r ? resolveRoute(r.group, r.version, r.rest) : undefined;
      const streaming = route?.subresource === 'exec' || route?.subresource === 'portforward';
      if (!route || route.info.plural !== 'pods' || !route.name || !streaming) throw pathNotFound();
      const q = url.searchParams;
      // Since 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) a websocket exec needs
      // `create` on pods/exec in addition to the `get` its GET method maps to.
      for (const verb of ['get', 'create'])
        this.authorizeOrThrow(attributesFor(user, verb, route, q), route.info);
      if (route.subresource === 'portforward') {
        this.upgradePortForward(req, socket, head, url, route, user);
        return;
      }
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        throw badRequest(
          'unable to upgrade connection: this API server serves exec only over websocket (v5.channel.k8s.io, v4.channel.k8s.io)',
        );
      }
      const offered = str(req.headers['sec-websocket-protocol'])
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const protocol = this.pickProtocol(offered);
      if (!protocol) {
        throw badRequest(
          `unable to upgrade connection: requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${this.d.execProtocols.join(' ')}]`,
        );
      }
      const pod = this.d.store.mustGet(PODS, route.namespace, route.name);
      const container = pickContainer(pod, q.get('container'));
      const phase = str((pod.status as Rec | undefined)?.phase);
      if (phase === 'Succeeded' || phase === 'Failed') {
        throw badRequest(
          `cannot exec into a container in a completed pod; current phase is ${phase}`,
        );
      }
      const state = containerState(pod, container);
      if (!state.running) {
        throw badRequest(`unable to upgrade connection: container not found ("${container}")`);
      }
      const command = q.getAll('command');
      if (command.length === 0)
        throw badRequest('you must specify at least one command for the container');
      const wants = {
        stdin: boolParam(q, 'stdin'),
        stdout: boolParam(q, 'stdout'),
        stderr: boolParam(q, 'stderr'),
        tty: boolParam(q, 'tty'),
      };
      if (!wants.stdin && !wants.stdout && !wants.stderr)
        throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
      if (wants.tty && wants.stderr) wants.stderr = false;
      const cwd = podDir(this.d.dataDir, route.namespace, route.name);
      const env = containerEnv(
        this.d.store,
        this.d.execBaseEnv,
        cwd,
        pod,
        container,
        route.namespace,
      );
      const execUser = user;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.record(req, url, execUser, 'create', 101);
        this.d.logger?.info(
          {
            namespace: route.namespace,
            pod: route.name,
            container,
            protocol,
            user: execUser.username,
          },
          'exec',
        );
        this.d.execs.start(ws, ws.protocol || protocol, {
          namespace: route.namespace,
          pod: route.name,
          container,
          command,
          ...wants,
          cwd,
          env,
        });
      });
    } catch (err) {
      reject(err);
    }
  }
  /**
   * A `pods/portforward` websocket (authorized already, as exec is): the pod must run; each
   * requested port becomes one connection to what the test mapped it to, or a refusal.
   */
  private upgradePortForward(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    url: URL,
    route: Route,
    user: UserInfo,
  ): void {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw badRequest(
        'unable to upgrade connection: this API server serves port-forward only over websocket (v4.channel.k8s.io)',
      );
    }
    const offered = str(req.headers['sec-websocket-protocol'])
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const protocol =
      offered.length === 0 ? '' : offered.find((p) => PORT_FORWARD_PROTOCOLS.includes(p as never));
    if (protocol === undefined) {
      throw badRequest(
        `unable to upgrade connection: requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${PORT_FORWARD_PROTOCOLS.join(' ')}]`,
      );
    }
    const ports = parsePorts(url.searchParams.getAll('ports'));
    const pod = this.d.store.mustGet(PODS, route.namespace, route.name);
    const phase = str((pod.status as Rec | undefined)?.phase);
    if (phase !== 'Running' || pod.metadata?.deletionTimestamp) {
      throw badRequest(
        `unable to upgrade connection: pod ${route.name} is not running (phase ${phase || 'Pending'})`,
      );
    }
    this.forwardWss.handleUpgrade(req, socket, head, (ws) => {
      this.record(req, url, user, 'create', 101);
      this.d.logger?.info(
        { namespace: route.namespace, pod: route.name, ports, protocol, user: user.username },
        'portforward',
      );
      this.d.forwards.start(
        ws,
        {
          namespace: route.namespace,
          pod: route.name,
          ports,
          protocol: ws.protocol,
          user: user.username,
        },
        pod.metadata?.uid ?? route.name,
      );
    });
  }
}

function httpReason(code: number): string {
  return (
    (
      {
        400: 'Bad Request',
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'Not Found',
        500: 'Internal Server Error',
      } as Record<number, string>
    )[code] ?? 'Error'
  );
}
