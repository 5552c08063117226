/**
 * Random-access byte sources: a checkpoint read from a file by offset (so storages land in their
 * own aligned buffers and files over Node's 2 GiB readFile limit still load) or held in memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CheckpointError, CheckpointTruncatedError } from './errors.js';

/** Bytes addressed by offset; every read is bounds-checked against `size`. */
export interface ByteSource {
  /** File path or buffer name, used in error messages. */
  readonly name: string;
  /** Total number of bytes. */
  readonly size: number;
  /**
   * Returns bytes [offset, offset + length). A view (no copy) for in-memory sources, a fresh
   * buffer for files. Throws CheckpointTruncatedError past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Throws unless [offset, offset + length) lies inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new CheckpointError(name, `${what}: invalid byte range (offset ${offset}, length ${length})`);
  }
  if (offset + length > size) {
    throw new CheckpointTruncatedError(
      name,
      `${what} needs bytes ${offset}..${offset + length} but the file has only ${size} bytes (truncated or corrupt)`,
    );
  }
}

/** A source over bytes already in memory; reads are views into them. */
export function bufferSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length, 'read');
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** A file source; call `close()` when done. */
export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

/** Opens `path` for reading by offset. */
export async function openFileSource(path: string): Promise<FileSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, `cannot open the checkpoint (${(e as Error).message})`);
  }
  const stats = await handle.stat().catch(async (e: Error) => {
    await handle.close();
    throw new CheckpointError(path, `cannot read the checkpoint's size (${e.message})`);
  });
  if (!stats.isFile()) {
    await handle.close();
    throw new CheckpointError(path, 'is not a regular file (a directory?)');
  }
  const size = stats.size;
  return {
    name: path,
    size,
    async read(offset, length) {
      checkRange(path, size, offset, length, 'read');
      // allocUnsafeSlow: never a slice of the shared pool, so the buffer starts 8-byte aligned
      // and a Float32Array / BigInt64Array view over it needs no copy.
      const out = Buffer.allocUnsafeSlow(length);
      for (let done = 0; done < length; ) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done).catch((e: Error) => {
          throw new CheckpointError(path, `cannot read ${length} bytes at ${offset} (${e.message})`);
        });
        if (bytesRead === 0) {
          throw new CheckpointTruncatedError(path, `file ended at byte ${offset + done} while reading ${length} bytes at ${offset}`);
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}
