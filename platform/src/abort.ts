/** What a console request that was aborted before it was ready rejects with. */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The console was cancelled', 'AbortError');
}
