/**
 * The memory budget of one checkpoint load: what a reader may allocate beyond the storage bytes
 * the file itself holds. Storage bytes cost nothing (each byte of the file is read at most once:
 * zip records and safetensors ranges may not overlap, and each storage is read once however many
 * tensors view it); everything that could grow past the file is charged here first:
 * - tensors that must be copied: stride-0 (expanded) or overlapping views, dtype conversions
 *   (float16 -> float32, int8 -> int64, ...), unaligned or big-endian data;
 * - DEFLATE records, at their declared size, before they are inflated;
 * - the objects an unpickler builds, estimated per container.
 * A hostile file that asks for more fails with a CheckpointError naming what asked, instead of
 * taking gigabytes.
 */
import { CheckpointError } from './errors.js';

/** Options of `loadCheckpoint` / `loadCheckpointBuffer`. */
export interface CheckpointLoadOptions {
  /**
   * Most bytes the reader may allocate beyond the storage bytes the file holds (copied or
   * expanded tensors, inflated records, unpickled objects). Default: max(256 MiB, 4 x the file
   * size), ample for real checkpoints, whose tensors are dense and sum to about the file size
   * (float16 weights converted to float32 take 2x). Raise it only for a trusted file that holds
   * expanded (stride-0) tensors or mostly 1-byte tensors (these widen 8x to int64).
   */
  maxMaterializedBytes?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_FLOOR = 256 * MiB;
const DEFAULT_FILE_MULTIPLE = 4;

/** Bytes as "268435456 bytes (256 MiB)" for messages. */
export function formatBytes(n: number): string {
  return n >= MiB ? `${n} bytes (${(n / MiB).toFixed(n >= 100 * MiB ? 0 : 1)} MiB)` : `${n} bytes`;
}

/** The running total of one load, checked before every allocation it covers. */
export class MemoryBudget {
  /** Bytes charged so far. */
  used = 0;
  readonly limit: number;
  private readonly explicit: boolean;

  /**
   * @param file the checkpoint's name, for errors
   * @param fileSize its size in bytes, which sets the default limit
   */
  constructor(readonly file: string, fileSize: number, options: CheckpointLoadOptions = {}) {
    const given = options.maxMaterializedBytes;
    if (given !== undefined && !(given >= 0)) throw new CheckpointError(file, `maxMaterializedBytes ${String(given)} is not a non-negative number`);
    this.explicit = given !== undefined;
    this.limit = given ?? Math.max(DEFAULT_FLOOR, DEFAULT_FILE_MULTIPLE * fileSize);
  }

  /**
   * Charges `bytes` for `what` (e.g. "tensor 'fc.weight': [200000000] float32 expanded from
   * stride [0]"; a function when building the text per call would cost), or throws a
   * CheckpointError saying it would pass the budget.
   */
  charge(bytes: number, what: string | (() => string)): void {
    if (!(bytes <= this.limit - this.used)) {
      const rule = this.explicit ? 'maxMaterializedBytes' : 'max(256 MiB, 4 x the file size); a trusted file can be allowed more with the maxMaterializedBytes option (resdet convert --max-memory <MiB>)';
      throw new CheckpointError(this.file, `${typeof what === 'string' ? what : what()} needs ${formatBytes(bytes)}: over the memory budget of ${formatBytes(this.limit)}, ` +
        `of which ${formatBytes(this.used)} is used (the budget is ${rule})`);
    }
    this.used += bytes;
  }
}
