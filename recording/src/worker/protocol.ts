/**
 * Messages between the bastion's thread and the recording worker. Data travels in batches: one
 * transferred buffer with many pieces, so a busy session costs one message per batch, not one
 * per read.
 */
import type {
  DroppedSpan,
  RecordedExit,
  RecorderConfig,
  RecordingErrorCode,
  RecordingManifest,
  SessionInfo,
  StoreConfig,
} from '../types.js';
import type { RecordingStart } from '../recorder.js';

export interface RecordingWorkerData {
  readonly store: StoreConfig;
  readonly keyFile: string;
  readonly config: RecorderConfig;
}

/** Stream codes in a batch's piece table. */
export const STREAMS = ['i', 'o', 'e'] as const;

export type ToWorker =
  | { readonly t: 'start'; readonly id: string; readonly start: RecordingStart }
  | {
      readonly t: 'data';
      readonly id: string;
      readonly bytes: ArrayBuffer;
      /** Triples: stream index in {@link STREAMS}, length, time (epoch ms). */
      readonly pieces: Float64Array;
    }
  | { readonly t: 'gap'; readonly id: string; readonly spans: readonly DroppedSpan[] }
  | {
      readonly t: 'resize';
      readonly id: string;
      readonly cols: number;
      readonly rows: number;
      readonly at: number;
    }
  | {
      readonly t: 'annotate';
      readonly id: string;
      readonly info: Partial<Pick<SessionInfo, 'pod' | 'execRequest'>>;
    }
  | { readonly t: 'finish'; readonly id: string; readonly exit: RecordedExit | undefined };

export interface WorkerError {
  readonly code: RecordingErrorCode;
  readonly message: string;
  readonly userMessage: string;
}

/**
 * The size of a full batch. The worker hands such batches back, so a busy session writes into
 * memory already mapped instead of fresh pages (each new 256 KiB costs 64 page faults).
 */
export const FULL_BATCH_BYTES = 256 * 1024;

export type FromWorker =
  | { readonly t: 'started'; readonly id: string; readonly error?: WorkerError }
  | {
      readonly t: 'consumed';
      readonly id: string;
      readonly bytes: number;
      /** The batch's memory, handed back (transferred) for the next batch when it is full-size. */
      readonly spare?: ArrayBuffer;
    }
  | { readonly t: 'failed'; readonly id: string; readonly error: WorkerError }
  | { readonly t: 'finished'; readonly id: string; readonly manifest?: RecordingManifest };
