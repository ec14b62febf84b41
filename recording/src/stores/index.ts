import type { RecordingStore, StoreConfig } from '../types.js';
import { FileRecordingStore } from './file.js';
import { S3RecordingStore } from './s3.js';

export { FileRecordingStore } from './file.js';
export { S3RecordingStore } from './s3.js';

/** The store a config names. */
export function createRecordingStore(config: StoreConfig): RecordingStore {
  return config.kind === 'file' ? new FileRecordingStore(config.dir) : new S3RecordingStore(config);
}
