/**
 * The download family: runtime-neutral (no Node APIs), shared by the Node downloader and the
 * browser package loader.
 */
import { ResdetError } from '../../postprocess/errors.js';

/**
 * A transfer that failed: the server was unreachable, answered with an HTTP error, or the
 * connection was cut. Retrying may succeed (a checkpoint download resumes where it stopped).
 * What was received is never trusted: content that arrives but is wrong (size, sha256) is a
 * ModelPackageError or CheckpointError instead.
 */
export class DownloadError extends ResdetError {
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;

  /**
   * @param url the address that failed
   * @param message what happened and what to do
   * @param status the HTTP status, when the server answered
   */
  constructor(readonly url: string, message: string, options?: { cause?: unknown; status?: number }) {
    super('DOWNLOAD', `${url}: ${message}`, options);
    this.status = options?.status;
  }
}

/** Why `fetch` rejected, in a few words: undici hides the socket error in `cause`. */
export function fetchFailure(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message}: ${cause}` : String(err.message ?? e);
}
