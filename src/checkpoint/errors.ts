/**
 * The one error family of checkpoint reading: every failure (wrong file type, truncation,
 * corruption, a refused pickle global, an unsupported opcode, a missing storage) is a
 * CheckpointError naming the file and what is wrong with it.
 */

import { ResdetError } from '../../postprocess/errors.js';

/** A checkpoint that cannot be read, with the file at fault and the reason. */
export class CheckpointError extends ResdetError {
  /**
   * @param file path of the checkpoint (or the name given to a Buffer)
   * @param detail what is wrong, phrased so that the full message reads "<file>: <detail>"
   */
  constructor(readonly file: string, readonly detail: string, options?: { cause?: unknown }) {
    super('CHECKPOINT', `${file}: ${detail}`, options);
  }
}

/**
 * Raised when a read runs past the end of the bytes available. A subclass so that the legacy
 * reader can tell "the pickle goes on past the prefix read so far" from real corruption.
 */
export class CheckpointTruncatedError extends CheckpointError {}
