/**
 * Writing an ONNX model straight to a file (Node only: kept out of the graph leaf's index so that
 * the builder stays importable where there is no `node:fs`).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { type OnnxModel, writeModel } from './onnx.js';

/** What was written: the file's size and the sha256 (hex) of exactly those bytes. */
export interface WrittenModel {
  bytes: number;
  sha256: string;
}

/**
 * Writes `model` to `path` (created or truncated) as `serializeModel` would encode it, without
 * materialising it: protobuf framing goes through a 1 MiB staging buffer, initializer data from
 * its source arrays (computed ones one chunk at a time) straight to the file. The sha256 is taken
 * over the bytes as they are written.
 */
export function serializeModelToFile(model: OnnxModel, path: string): WrittenModel {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    const bytes = writeModel(model, {
      write(chunk: Uint8Array): void {
        // writeSync may write less than asked (e.g. on a full pipe); a short write must not corrupt the file.
        for (let done = 0; done < chunk.byteLength;) done += writeSync(fd, chunk, done, chunk.byteLength - done);
        hash.update(chunk);
      },
    });
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}
