import { randomUUID } from 'node:crypto';
import { alreadyExists, conflict, expired, notFound, STALE_OBJECT } from './status.js';
import { resourceKey, type ResourceInfo } from './resources.js';
import type { KubeObject } from './types.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change recorded by the store, with the object before the change for MODIFIED. */
export interface StoreEvent {
  type: WatchEventType;
  key: string;
  rv: number;
  object: KubeObject;
  previous: KubeObject | undefined;
}

export interface WatchFilter {
  key: string;
  namespace: string | undefined;
  matches: (obj: KubeObject) => boolean;
}

/** What a watcher receives: the event type already adjusted for the selector (enter/leave). */
export type WatchListener = (type: WatchEventType, object: KubeObject, rv: number) => void;

interface Watcher {
  filter: WatchFilter;
  listener: WatchListener;
}

function nsOf(obj: KubeObject): string {
  return obj.metadata?.namespace ?? '';
}

/**
 * The fake's etcd: every object of every type under one global, monotonically increasing
 * resourceVersion (as etcd's revision is), a bounded history for resuming watches, and fan-out
 * of changes to watchers and to in-process subscribers (kubelet, exec and log cleanup).
 */
export class ObjectStore {
  private revision = 100;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  /** Events at or below this revision are gone from history. */
  private compactedAt = 100;
  private readonly watchers = new Set<Watcher>();
  private readonly subscribers = new Set<(e: StoreEvent) => void>();

  constructor(private readonly maxHistory: number) {}

  currentRevision(): number {
    return this.revision;
  }

  private bucket(key: string): Map<string, KubeObject> {
    let b = this.objects.get(key);
    if (!b) {
      b = new Map();
      this.objects.set(key, b);
    }
    return b;
  }

  get(info: ResourceInfo, namespace: string, name: string): KubeObject | undefined {
    const obj = this.bucket(resourceKey(info)).get(`${namespace}/${name}`);
    return obj ? structuredClone(obj) : undefined;
  }

  mustGet(info: ResourceInfo, namespace: string, name: string): KubeObject {
    const obj = this.get(info, namespace, name);
    if (!obj) throw notFound(info, name);
    return obj;
  }

  list(info: ResourceInfo, namespace: string | undefined): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.bucket(resourceKey(info)).values()) {
      if (namespace === undefined || nsOf(obj) === namespace) out.push(structuredClone(obj));
    }
    return out.sort((a, b) =>
      `${nsOf(a)}/${a.metadata?.name ?? ''}`.localeCompare(`${nsOf(b)}/${b.metadata?.name ?? ''}`),
    );
  }

  /** Stores a new object: assigns uid, creationTimestamp, resourceVersion and generation. */
  create(info: ResourceInfo, input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    const meta = (obj.metadata ??= {});
    const name = meta.name ?? '';
    const id = `${meta.namespace ?? ''}/${name}`;
    const bucket = this.bucket(resourceKey(info));
    if (bucket.has(id)) throw alreadyExists(info, name);
    this.revision++;
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    meta.resourceVersion = String(this.revision);
    if (info.kind === 'Deployment') meta.generation = 1;
    delete meta.deletionTimestamp;
    bucket.set(id, obj);
    this.emit({
      type: 'ADDED',
      key: resourceKey(info),
      rv: this.revision,
      object: obj,
      previous: undefined,
    });
    return structuredClone(obj);
  }

  /**
   * Replaces an object. A non-empty `metadata.resourceVersion` must equal the stored one (409
   * Conflict otherwise); an empty one is an unconditional update, as the real server allows
   * for these types. `bumpGeneration` is decided by the caller (spec changes only).
   */
  update(
    info: ResourceInfo,
    input: KubeObject,
    opts: { bumpGeneration?: boolean } = {},
  ): KubeObject {
    const obj = structuredClone(input);
    const meta = (obj.metadata ??= {});
    const name = meta.name ?? '';
    const id = `${meta.namespace ?? ''}/${name}`;
    const bucket = this.bucket(resourceKey(info));
    const current = bucket.get(id);
    if (!current) throw notFound(info, name);
    if (meta.resourceVersion && meta.resourceVersion !== current.metadata?.resourceVersion) {
      throw conflict(info, name, STALE_OBJECT);
    }
    // Immutable metadata comes from the stored object whatever the client sent.
    meta.uid = current.metadata?.uid;
    meta.creationTimestamp = current.metadata?.creationTimestamp;
    if (current.metadata?.deletionTimestamp)
      meta.deletionTimestamp = current.metadata.deletionTimestamp;
    if (current.metadata?.generation !== undefined) {
      meta.generation = current.metadata.generation + (opts.bumpGeneration ? 1 : 0);
    }
    meta.resourceVersion = current.metadata?.resourceVersion;
    if (JSON.stringify(obj) === JSON.stringify(current)) return structuredClone(current);
    this.revision++;
    meta.resourceVersion = String(this.revision);
    bucket.set(id, obj);
    this.emit({
      type: 'MODIFIED',
      key: resourceKey(info),
      rv: this.revision,
      object: obj,
      previous: current,
    });
    return structuredClone(obj);
  }

  /** Removes an object; the DELETED event carries a new resourceVersion, as etcd's does. */
  delete(info: ResourceInfo, namespace: string, name: string, preconditionRv?: string): KubeObject {
    const bucket = this.bucket(resourceKey(info));
    const id = `${namespace}/${name}`;
    const current = bucket.get(id);
    if (!current) throw notFound(info, name);
    if (preconditionRv && preconditionRv !== current.metadata?.resourceVersion) {
      throw conflict(info, name, STALE_OBJECT);
    }
    bucket.delete(id);
    this.revision++;
    const obj = structuredClone(current);
    obj.metadata = { ...obj.metadata, resourceVersion: String(this.revision) };
    this.emit({
      type: 'DELETED',
      key: resourceKey(info),
      rv: this.revision,
      object: obj,
      previous: current,
    });
    return structuredClone(obj);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.maxHistory) {
      const dropped = this.history.splice(0, this.history.length - this.maxHistory);
      this.compactedAt = dropped[dropped.length - 1]!.rv;
    }
    for (const w of [...this.watchers]) deliver(w, event);
    for (const s of [...this.subscribers]) s(event);
  }

  compact(): void {
    this.history = [];
    this.compactedAt = this.revision;
  }

  /** In-process subscription to every change (not subject to selectors or history). */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /**
   * Starts a watch. With `fromRv` set (and not "0"), replays history after it or throws 410
   * Expired when it is older than the kept history; without, the caller sends the current
   * state as synthetic ADDED events first (what the real server does for "most recent").
   */
  watch(filter: WatchFilter, fromRv: number | undefined, listener: WatchListener): () => void {
    if (fromRv !== undefined && fromRv < this.compactedAt) {
      throw expired(`too old resource version: ${fromRv} (${this.compactedAt + 1})`);
    }
    const watcher: Watcher = { filter, listener };
    if (fromRv !== undefined) {
      for (const event of this.history) if (event.rv > fromRv) deliver(watcher, event);
    }
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }
}

function deliver(w: Watcher, event: StoreEvent): void {
  const { filter } = w;
  if (event.key !== filter.key) return;
  if (filter.namespace !== undefined && nsOf(event.object) !== filter.namespace) return;
  const now = filter.matches(event.object);
  if (event.type === 'MODIFIED') {
    const before = event.previous ? filter.matches(event.previous) : false;
    // An object entering or leaving the selector looks like an add or delete to the watcher.
    if (now && before) w.listener('MODIFIED', structuredClone(event.object), event.rv);
    else if (now) w.listener('ADDED', structuredClone(event.object), event.rv);
    else if (before) w.listener('DELETED', structuredClone(event.object), event.rv);
    return;
  }
  if (now) w.listener(event.type, structuredClone(event.object), event.rv);
}
