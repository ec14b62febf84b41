/**
 * The contract of `@neetodeploy/recording`: what a session recording is (binary frames in
 * hash-chained chunks plus a signed manifest, read back as asciicast v3 text), where it is kept ({@link RecordingStore}), how it
 * is written ({@link SessionRecorder}) and read back ({@link readRecording},
 * {@link verifyRecording}).
 *
 * ## Identity
 * A recording's id is the id of the bastion session it records: a lowercase RFC 4122 UUID
 * (`3f2b…-…`), the same `sessionId` the bastion's audit events and the Kubernetes user agent
 * carry, so the three can be joined. See {@link RECORDING_ID_PATTERN}.
 *
 * ## Stored layout (keys below a store's root: a directory, or an S3 bucket and prefix)
 * ```
 * sessions/<id>/chunks/<seq>.chunk      seq zero-padded to 8 digits, from 00000000
 * sessions/<id>/manifest.json           written once, when the session ended
 * index/<app>/<startedAt>_<id>.json     a copy of the manifest, for listing by app and time;
 *                                       startedAt as `YYYYMMDDTHHMMSSmmmZ` so keys sort by time
 * ```
 * A recording without a manifest is still being written, or its bastion died mid-session: its
 * chunks can be read, but {@link verifyRecording} reports `manifest-missing`.
 *
 * ## Chunk format
 * A chunk's first line is a JSON object {@link ChunkMeta} (`{"recording":id,"seq":n,"prev":"<hex
 * SHA-256 of chunk n-1's bytes>","format":"frames"}`; chunk 0's `prev` is 64 zeros). The rest is
 * a run of whole binary frames (`frames.ts`: an event code, the interval, the length, then the
 * bytes as they passed), chunk 0's first frame holding the asciicast header line. Asciicast v3
 * text is rendered from the frames when a recording is read ({@link readRecording}): encoding
 * every byte as JSON while the session ran cost more CPU than the session. Chunks written before
 * frames (no `format`) hold asciicast lines and are read as they are. The manifest's `finalHash`
 * is the SHA-256 of the last chunk's bytes, so the chain pins every byte of every chunk, and the
 * signature over the manifest pins the chain.
 *
 * ## Event codes (asciicast v3 `[interval, code, data]`, interval in seconds since the last event,
 * as rendered; a frame's code is the same letter)
 * - `i` input the client sent (absent under the `output-only` policy)
 * - `o` the console's stdout
 * - `e` the console's stderr (our code; players ignore codes they don't know, asciinema-player
 *   included, so a player shows stdout only unless the reader merges `e` into `o`, see
 *   {@link ReadOptions.mergeStderr})
 * - `r` a resize, data `"COLSxROWS"`
 * - `m` a marker, data a human sentence (e.g. the byte limit was reached)
 * - `d` data dropped past the byte limit (our code): data is a JSON text of {@link DroppedSpan}
 * - `x` the exit: data the exit code as decimal text (`"0"`, `"127"`), or `"SIG<NAME>"` when a
 *   signal ended the process, or `"?"` when the session ended without a status
 */
import type { KeyObject } from 'node:crypto';

/** The asciicast event codes we write. */
export const EVENT_CODES = {
  input: 'i',
  output: 'o',
  stderr: 'e',
  resize: 'r',
  marker: 'm',
  dropped: 'd',
  exit: 'x',
} as const;
export type EventCode = (typeof EVENT_CODES)[keyof typeof EVENT_CODES];

/** One asciicast v3 event line, parsed; `code` is an {@link EventCode} or one a newer writer added. */
export type RecordingEvent = readonly [interval: number, code: string, data: string];

/** A lowercase UUID: the bastion's session id. */
export const RECORDING_ID_PATTERN =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * What is recorded, per app, from the access policy (keys-service) via the certificate
 * extension {@link RECORDING_EXTENSION}. `full` (the default when the extension is absent)
 * records input and output; `output-only` leaves out what the user typed (passwords at a
 * prompt); `off` records nothing.
 */
export const RECORDING_POLICIES = ['full', 'output-only', 'off'] as const;
export type RecordingPolicy = (typeof RECORDING_POLICIES)[number];
/** The certificate extension carrying the policy; OpenSSH ignores extensions it doesn't know. */
export const RECORDING_EXTENSION = 'recording@neetodeploy.com';
export const DEFAULT_RECORDING_POLICY: RecordingPolicy = 'full';

/**
 * `best-effort`: a store that fails is logged and counted, the session goes on unrecorded from
 * there. `required`: a session whose recording cannot be started is refused, and one whose store
 * fails mid-way is ended.
 */
export type RecordingMode = 'best-effort' | 'required';

/** Who did what where: our fields in the asciicast header (key `neetodeploy`) and the manifest. */
export interface SessionInfo {
  /** The recording id (= the bastion's session id). */
  readonly sessionId: string;
  readonly app: string;
  /** The process type the session asked for (`web`), if any. */
  readonly process?: string;
  /** The pod (Kubernetes) or process (local platform) the console ran in, once known. */
  readonly pod?: string;
  readonly user: string;
  /** The certificate's key id and serial (decimal text: a uint64 does not fit a JSON number). */
  readonly keyId: string;
  readonly certSerial: string;
  /** The client's address as the bastion saw it (`203.0.113.9:51234`). */
  readonly clientAddress: string;
  /** `direct`, or `jump` when the session came through ProxyJump. */
  readonly via: 'direct' | 'jump';
  /** The command of an `exec`, `subsystem:NAME`, or null for a shell. */
  readonly command: string | null;
  readonly pty: boolean;
  /**
   * The exec request the platform made, as the cluster's audit log shows it: e.g.
   * `POST /api/v1/namespaces/app-demo/pods/demo-console-x1/exec?command=sh&...`, and the user
   * agent it carried. Absent on the local platform.
   */
  readonly execRequest?: { readonly path: string; readonly userAgent: string };
  readonly policy: RecordingPolicy;
}

/** The asciicast v3 header line we write (the fields we set; players ignore `neetodeploy`). */
export interface RecordingHeader {
  readonly version: 3;
  readonly term: { readonly cols: number; readonly rows: number; readonly type?: string };
  /** Unix time in seconds of the session's start. */
  readonly timestamp: number;
  readonly command?: string;
  readonly title?: string;
  readonly neetodeploy: SessionInfo;
}

/** The first line of every chunk. */
export interface ChunkMeta {
  readonly recording: string;
  readonly seq: number;
  /** Hex SHA-256 of the previous chunk's whole bytes; 64 zeros for chunk 0. */
  readonly prev: string;
  /** `frames`: the body is binary frames. Absent: asciicast lines (recordings made before frames). */
  readonly format?: 'frames';
}

/** Bytes per stream: `i` input, `o` stdout, `e` stderr. */
export interface StreamBytes {
  readonly i: number;
  readonly o: number;
  readonly e: number;
}

/** A `d` event's data: a run of bytes of one stream left out past the limit, and its hash. */
export interface DroppedSpan {
  readonly stream: 'i' | 'o' | 'e';
  readonly bytes: number;
  /** Hex SHA-256 of exactly those bytes, in order. */
  readonly sha256: string;
}

/** Written once when the session ended, signed; what listing shows and verification checks. */
export interface RecordingManifest {
  readonly version: 1;
  readonly id: string;
  readonly session: SessionInfo;
  /** ISO 8601 times. */
  readonly startedAt: string;
  readonly endedAt: string;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  readonly chunkCount: number;
  /** Hex SHA-256 of the last chunk's bytes (of 64 zeros when there is no chunk). */
  readonly finalHash: string;
  /** Bytes of all chunks as stored. */
  readonly storedBytes: number;
  /** Bytes that went through the session, per stream (whatever was recorded of them). */
  readonly bytes: StreamBytes;
  /** Bytes recorded as `i`/`o`/`e` events. */
  readonly recordedBytes: StreamBytes;
  /** Bytes left out past the byte limit (their hashes are in `d` events). */
  readonly droppedBytes: StreamBytes;
  readonly limitBytes: number;
  /** Set when the store failed mid-way (best-effort): the chunks end early. */
  readonly incomplete?: string;
  /** Id of the signing key: `SHA256:<base64 of SHA-256 of the raw 32-byte public key>`. */
  readonly keyId: string;
  /** Base64 Ed25519 signature over {@link canonicalManifestBytes} of every other field. */
  readonly signature: string;
}

/** Listing filter; every field narrows. Results come newest first. */
export interface ManifestQuery {
  readonly app?: string;
  readonly user?: string;
  /** Sessions that started at or after this time. */
  readonly since?: Date;
  /** At most this many (default 100). */
  readonly limit?: number;
}

/**
 * Where recordings live. Implementations: `FileRecordingStore` (a directory) and
 * `S3RecordingStore`. Every method rejects with a {@link RecordingError} of code `store` when
 * the backend fails; reading something absent resolves `undefined`, never rejects.
 */
export interface RecordingStore {
  /**
   * Writes (or overwrites: a retry) chunk `seq` of recording `id`. The store must not hold on to
   * `data` once the promise settles: the recorder writes its next chunk into the same memory.
   */
  putChunk(id: string, seq: number, data: Buffer): Promise<void>;
  /** Writes the manifest and its index entry. Called once per recording, after its last chunk. */
  putManifest(manifest: RecordingManifest): Promise<void>;
  /**
   * The manifest as stored (NOT verified: use {@link verifyRecording} before trusting it).
   * Rejects with code `manifest-malformed` when it exists but is not a manifest.
   */
  getManifest(id: string): Promise<RecordingManifest | undefined>;
  /** Manifests from the index, newest first; unverified. Malformed entries are skipped. */
  listManifests(query: ManifestQuery): Promise<RecordingManifest[]>;
  /** The chunk sequence numbers present, ascending (may have gaps if someone deleted one). */
  listChunks(id: string): Promise<number[]>;
  getChunk(id: string, seq: number): Promise<Buffer | undefined>;
  /** Releases clients and handles. */
  close(): Promise<void>;
}

/** What {@link readRecording} can be asked. */
export interface ReadOptions {
  /**
   * Turn `e` events into `o` so that players that know only `o` show stderr too (the terminal
   * showed both). Default false: the text is exactly what was stored.
   */
  readonly mergeStderr?: boolean;
}

/**
 * Reads recording `id` as asciicast v3 text (header line, then event lines), chunk by chunk in
 * sequence order, without checking the chain (see {@link verifyRecording}). Rejects with code
 * `not-found` when the recording has no chunk.
 */
export type ReadRecording = (
  store: RecordingStore,
  id: string,
  options?: ReadOptions,
) => AsyncIterable<string>;

/** Why {@link verifyRecording} rejected a recording; each tampering shows as its own reason. */
export type VerifyFailureReason =
  /** The id is not a recording id. */
  | 'bad-id'
  /** No chunk and no manifest: nothing by that id. */
  | 'not-found'
  /** Chunks but no manifest: still being written, or its bastion died (or it was removed). */
  | 'manifest-missing'
  /** The manifest is not valid JSON of the expected shape, or names another recording. */
  | 'manifest-malformed'
  /** The manifest was signed by a key other than the one given (re-signed, or wrong key). */
  | 'wrong-key'
  /** The signature does not match the manifest's fields (a field was edited). */
  | 'signature-invalid'
  /** A chunk in the middle of the sequence is absent (removed). */
  | 'chunk-missing'
  /** Chunks the manifest does not count are present (appended). */
  | 'chunk-extra'
  /** Chunks at the end are absent, or a chunk is cut short (its last event incomplete). */
  | 'truncated'
  /** A chunk sits at another position than the one it was written at (reordered). */
  | 'chunk-out-of-order'
  /** A chunk's first line is not chunk metadata of this recording. */
  | 'chunk-malformed'
  /** A chunk's bytes differ from what the chain recorded (an edited byte). */
  | 'chunk-altered'
  /** The store could not be read. */
  | 'store';

export type VerifyResult =
  | {
      readonly ok: true;
      readonly manifest: RecordingManifest;
    }
  | {
      readonly ok: false;
      readonly reason: VerifyFailureReason;
      /** One sentence for an operator, naming the chunk when there is one. */
      readonly message: string;
      /** The chunk sequence number at fault, when one is. */
      readonly chunk?: number;
      /** The manifest, when it could be read (unverified). */
      readonly manifest?: RecordingManifest;
    };

/**
 * Checks recording `id` against the public half of the recording key (a KeyObject, or PEM
 * text of an SPKI public key or PKCS#8 private key). Never throws: a store failure is `store`.
 */
export type VerifyRecording = (
  store: RecordingStore,
  id: string,
  publicKey: KeyObject | string,
) => Promise<VerifyResult>;

/** Where a bastion keeps recordings. */
export type StoreConfig =
  | { readonly kind: 'file'; readonly dir: string }
  | {
      readonly kind: 's3';
      readonly endpoint?: string;
      readonly region: string;
      readonly bucket: string;
      /** Prepended to every key, e.g. `recordings/`. */
      readonly prefix: string;
      /** Absent: the SDK's default chain (env, web identity, instance role). */
      readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
      /** Default true: S3-compatible servers (MinIO, s3rver) need path-style URLs. */
      readonly forcePathStyle?: boolean;
      /** Per-request timeout. */
      readonly requestTimeoutMs?: number;
    };

/** The recording settings a bastion runs with. */
export interface RecorderConfig {
  readonly mode: RecordingMode;
  /** Bytes of `i`/`o`/`e` data recorded per session; past it only hashes are kept. */
  readonly maxSessionBytes: number;
  /** A chunk is cut when its frames reach this many bytes (at most a quarter of `spoolBytes`) ... */
  readonly chunkBytes: number;
  /** ... or this long after its first event, so a live session lands in the store. */
  readonly flushIntervalMs: number;
  /**
   * Bytes of finished chunks held in memory waiting for the store. When full, the recorder
   * stops recording data (best-effort: the rest is hashed as dropped; required: the session is
   * ended) instead of stalling the session.
   */
  readonly spoolBytes: number;
}

/** How a session ended, for the `x` event and the manifest. */
export interface RecordedExit {
  readonly code?: number;
  /** Without `SIG`, e.g. `TERM`. */
  readonly signal?: string;
}

/**
 * Records one session. The bastion calls the data methods as bytes pass (they never block and
 * never throw: they copy, hash and queue), then `finish` once.
 */
export interface SessionRecorder {
  readonly id: string;
  /** `at`: when the data passed, in fractional milliseconds since the epoch (default now). */
  input(data: Buffer, at?: number): void;
  output(data: Buffer, at?: number): void;
  stderr(data: Buffer, at?: number): void;
  resize(cols: number, rows: number, at?: number): void;
  /** Adds what became known after the start (the pod, the exec request) to the manifest. */
  annotate(info: Partial<Pick<SessionInfo, 'pod' | 'execRequest'>>): void;
  /**
   * Writes the `x` event and the last chunk, waits for the spool to drain into the store, then
   * signs and stores the manifest. Resolves with the manifest, or undefined when the recording
   * failed (best-effort: logged and counted). Never rejects.
   */
  finish(exit: RecordedExit | undefined): Promise<RecordingManifest | undefined>;
  /**
   * Resolves (never rejects) with the error once the recording failed for good: the store kept
   * failing, or the spool overflowed. In `required` mode the bastion ends the session then.
   */
  readonly failed: Promise<RecordingError>;
}

/** Stable codes of {@link RecordingError}. */
export type RecordingErrorCode =
  'store' | 'spool-full' | 'not-found' | 'manifest-malformed' | 'bad-id' | 'key' | 'config';

/**
 * The one error class of this package: `message` for operators and logs, `userMessage` for a
 * person at a terminal, saying what to do next.
 */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
  constructor(
    readonly code: RecordingErrorCode,
    message: string,
    readonly userMessage: string = message,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
