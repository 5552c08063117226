/**
 * The annotate family: what `resdet annotate` and `resdet merge` refuse, each naming the file,
 * folder or value at fault and what to do.
 */
import { ResdetError } from '../../postprocess/errors.js';

/**
 * The codes of the family:
 * - ANNOTATE_INPUT: an input spec (folder, glob, list file, COCO file) that is missing or broken,
 *   or an input list that cannot be used as is (duplicate names, colliding ids, no images).
 * - ANNOTATE_SHARD: a --shard value that is not K/N with 1 <= K <= N.
 * - ANNOTATE_JOURNAL: a journal that cannot be read or used (no header, not a journal).
 * - ANNOTATE_MISMATCH: a journal or shard made with another model, options, input list or shard.
 * - ANNOTATE_LOCKED: another live process holds the output folder's annotate.lock.
 * - ANNOTATE_MERGE: shards that cannot be merged (conflicting records, missing shards, a bad --out).
 * - ANNOTATE_WORKER: an inference worker (--jobs) could not load its copy of the model.
 */
export type AnnotateErrorCode =
  | 'ANNOTATE_INPUT'
  | 'ANNOTATE_SHARD'
  | 'ANNOTATE_JOURNAL'
  | 'ANNOTATE_MISMATCH'
  | 'ANNOTATE_LOCKED'
  | 'ANNOTATE_MERGE'
  | 'ANNOTATE_WORKER';

/** A refusal of `resdet annotate` or `resdet merge`; the message is one line. */
export class AnnotateError extends ResdetError {
  declare readonly code: AnnotateErrorCode;

  /**
   * @param code the family code, see {@link AnnotateErrorCode}
   * @param message what is wrong, naming the file, folder or value, and what to do
   */
  constructor(code: AnnotateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** `message` naming the input file, unless it already does. */
export function namingInput(input: { path: string; fileName: string }, message: string): string {
  if (message.includes(input.path) || message.includes(input.fileName)) return message;
  // Errors about the decoded pixels (handed to detect as raw pixels) name them 'pixels'.
  return `${input.path}: ${message.replace(/^pixels: /, '')}`;
}
