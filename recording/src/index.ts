/** Session recordings: format, hash chain, signed manifests, storage and verification. */
export * from './types.js';
export { ZERO_HASH, decodeChunk, encodeChunk, sha256Hex } from './chain.js';
export { chunkKey, isRecordingId, manifestKey } from './layout.js';
export {
  loadOrCreateRecordingKey,
  loadRecordingKey,
  parseRecordingKey,
  recordingKeyId,
  toPublicKey,
} from './keys.js';
export type { RecordingKey } from './keys.js';
export { canonicalManifestBytes, parseManifest, signManifest } from './manifest.js';
export { readRecording, readRecordingText } from './read.js';
export { startRecording } from './recorder.js';
export { RecordingWorker } from './worker/host.js';
export type { RecordingWorkerOptions } from './worker/host.js';
export { startWorkerThread } from './worker/start.js';
export type { RecorderDeps, RecordingStart } from './recorder.js';
export { FileRecordingStore, S3RecordingStore, createRecordingStore } from './stores/index.js';
export { verifyRecording } from './verify.js';
