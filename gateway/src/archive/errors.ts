/**
 * The archive's one error: lines that exist but cannot be read right now (the store is down, or
 * a chunk fails its checksum). Readers answer `unavailable` (WebSocket `error` with the job id,
 * HTTP 503), never `gap`: a gap means gone for good.
 */
export class ArchiveUnavailableError extends Error {
  override readonly name = 'ArchiveUnavailableError';
  /** A chunk that was read but is not what was written (counted apart: it will not heal by itself). */
  readonly corrupt: boolean;
  constructor(message: string, { corrupt = false }: { corrupt?: boolean } = {}) {
    super(message);
    this.corrupt = corrupt;
  }
}
