/**
 * A watched, bounded copy of the store's hot records (users, tokens, not-befores, browser-session
 * epochs, revoked serials), so an authenticated call reads memory instead of the API server
 * three or four times, and the CA bundle's version needs no LIST.
 *
 * How it stays correct, as a Kubernetes informer does: one LIST, then a WATCH from the list's
 * resourceVersion; every event replaces or removes the copy. Writes made by this replica are
 * applied at once from the API's answer, so a replica reads its own writes. The copy is trusted
 * only while the watch is known to be alive: the watch asks the server to end it every
 * `watchSeconds` and is re-opened from the last resourceVersion, and a watch that neither ends
 * nor sends anything for `watchSeconds + graceSeconds` is cut. Until the next LIST completes
 * (after a failure, a 410, or at start) `lookup` answers "unsynced" and callers read the API.
 * Past `maxEntries` the copy is dropped for good and every read goes to the API (bounded memory
 * whatever the store holds).
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { bodyLines, type KubeClient } from '@neetodeploy/platform';

/** A Secret holds at most 1 MiB of data; its watch event, base64 and metadata included, less than this. */
const MAX_WATCH_EVENT = 4 * 1024 * 1024;

export interface MirroredObject {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

interface ObjectList {
  items?: MirroredObject[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export interface SecretMirrorOptions {
  readonly client: KubeClient;
  /** `/api/v1/namespaces/NS/secrets`. */
  readonly path: string;
  /** The label naming a record's kind, and the kinds mirrored. */
  readonly kindLabel: string;
  readonly kinds: ReadonlySet<string>;
  readonly maxEntries: number;
  readonly watchSeconds: number;
  readonly graceSeconds: number;
  readonly retryDelayMs: number;
  readonly logger?: Logger | undefined;
  /** Called after every change the mirror learns of (its own writes included). */
  readonly onChange?: ((name: string) => void) | undefined;
}

/** `listing` until a LIST completes (at start and after a lost watch); `dropped` past its bound. */
export type ReadCacheState = 'off' | 'listing' | 'synced' | 'dropped';

/** What the mirror knows of one name. */
export type Lookup =
  | { readonly state: 'present'; readonly object: MirroredObject }
  | { readonly state: 'absent' }
  | { readonly state: 'unsynced' };

/** resourceVersions are opaque, but etcd's (and the fake's) are integers: compare when both are. */
function isOlder(candidate: string | undefined, current: string | undefined): boolean {
  if (!candidate || !current || !/^\d+$/.test(candidate) || !/^\d+$/.test(current)) return false;
  return BigInt(candidate) < BigInt(current);
}

export class SecretMirror {
  private readonly objects = new Map<string, MirroredObject>();
  private synced = false;
  private dropped = false;
  private stopped = false;
  private readonly abort = new AbortController();
  /** Last time the API server answered the mirror (list, watch data or watch end). */
  lastContact = 0;

  constructor(private readonly o: SecretMirrorOptions) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.synced = false;
    this.abort.abort();
  }

  get isSynced(): boolean {
    return this.synced;
  }

  get state(): ReadCacheState {
    return this.dropped ? 'dropped' : this.synced ? 'synced' : 'listing';
  }

  lookup(name: string): Lookup {
    if (!this.synced) return { state: 'unsynced' };
    const object = this.objects.get(name);
    return object ? { state: 'present', object } : { state: 'absent' };
  }

  /** Every mirrored object whose labels include `labels`, or undefined when unsynced. */
  select(labels: Readonly<Record<string, string>>): MirroredObject[] | undefined {
    if (!this.synced) return undefined;
    const wanted = Object.entries(labels);
    return [...this.objects.values()].filter((obj) =>
      wanted.every(([k, v]) => obj.metadata.labels?.[k] === v),
    );
  }

  /** This replica wrote `object` (the API's answer): read-your-writes without waiting. */
  written(object: MirroredObject): void {
    if (this.matches(object)) this.put(object);
  }

  /** This replica deleted `name`. */
  deleted(name: string): void {
    if (this.objects.delete(name)) this.o.onChange?.(name);
  }

  private matches(object: MirroredObject): boolean {
    return this.o.kinds.has(object.metadata.labels?.[this.o.kindLabel] ?? '');
  }

  private get labelSelector(): string {
    return `${this.o.kindLabel} in (${[...this.o.kinds].join(',')})`;
  }

  private put(object: MirroredObject): void {
    const name = object.metadata.name;
    const current = this.objects.get(name);
    const version = object.metadata.resourceVersion;
    // An older event, or the watch's echo of this replica's own write: nothing new.
    if (
      current &&
      (isOlder(version, current.metadata.resourceVersion) ||
        (version !== undefined && version === current.metadata.resourceVersion))
    ) {
      return;
    }
    this.objects.set(name, object);
    this.o.onChange?.(name);
    if (this.objects.size > this.o.maxEntries) this.drop();
  }

  private drop(): void {
    this.dropped = true;
    this.synced = false;
    this.objects.clear();
    this.abort.abort();
    this.o.logger?.warn(
      { event: 'store.cache_dropped', maxEntries: this.o.maxEntries },
      'the store holds more records than its read cache may; reading the cluster API instead',
    );
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.dropped) {
      try {
        const version = await this.list();
        await this.watchFrom(version);
      } catch (err) {
        if (this.stopped || this.dropped) return;
        this.o.logger?.warn(
          { event: 'store.cache_resync', err: (err as Error).message },
          'store read cache lost its watch; reading the cluster API until it is listed again',
        );
      }
      this.synced = false;
      await delay(this.o.retryDelayMs, this.abort.signal);
    }
  }

  /** Replaces the copy with a fresh LIST; returns the list's resourceVersion. */
  private async list(): Promise<string> {
    const fresh = new Map<string, MirroredObject>();
    let cont: string | undefined;
    let version = '';
    do {
      const page = await this.o.client.request<ObjectList>('GET', this.o.path, {
        query: { labelSelector: this.labelSelector, limit: 500, continue: cont },
        signal: this.abort.signal,
      });
      for (const item of page.items ?? []) fresh.set(item.metadata.name, item);
      if (fresh.size > this.o.maxEntries) {
        this.drop();
        throw new Error('too many records');
      }
      cont = page.metadata?.continue || undefined;
      version = page.metadata?.resourceVersion ?? version;
    } while (cont);
    this.objects.clear();
    for (const [name, obj] of fresh) this.objects.set(name, obj);
    this.lastContact = Date.now();
    this.synced = true;
    this.o.onChange?.('');
    return version;
  }

  /** Follows changes until the watch fails; a watch the server ends normally is re-opened. */
  private async watchFrom(startVersion: string): Promise<void> {
    let version = startVersion;
    for (;;) {
      const res = await this.o.client.stream(this.o.path, {
        query: {
          labelSelector: this.labelSelector,
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: version,
          timeoutSeconds: this.o.watchSeconds,
        },
        signal: this.abort.signal,
      });
      this.lastContact = Date.now();
      version = await this.follow(res, version);
      if (this.stopped) return;
      this.lastContact = Date.now();
    }
  }

  /** Applies one watch response's events; returns the last resourceVersion seen. */
  private async follow(res: IncomingMessage, startVersion: string): Promise<string> {
    let version = startVersion;
    const limitMs = (this.o.watchSeconds + this.o.graceSeconds) * 1000;
    const silent = setTimeout(() => res.destroy(new Error('the watch went silent')), limitMs);
    try {
      for await (const raw of bodyLines(res, { maxLineChars: MAX_WATCH_EVENT, overlong: 'fail' })) {
        if (!raw.trim()) continue;
        const event = JSON.parse(raw) as { type: string; object: MirroredObject };
        if (event.type === 'ERROR') throw new Error('the watch ended with an error (expired)');
        version = event.object.metadata.resourceVersion ?? version;
        this.lastContact = Date.now();
        if (event.type === 'BOOKMARK') continue;
        if (event.type === 'DELETED') this.deleted(event.object.metadata.name);
        else this.put(event.object);
      }
    } finally {
      clearTimeout(silent);
    }
    return version;
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
