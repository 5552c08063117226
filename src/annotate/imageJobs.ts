/**
 * The per-image work of `resdet annotate` apart from the networks: decoding an input and turning
 * its detections into dataset objects and a preview PNG. Run on helper threads (worker.ts) and on
 * inference workers (replica.ts); every failure comes back as `{ code, message }`, never thrown.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ResdetError } from '../../postprocess/errors.js';
import { decodeImage } from '../image/decode.js';
import { encodePng } from '../image/encode.js';
import { drawPreview } from '../preview/index.js';
import { writeFileAtomicAsync } from '../cli/files.js';
import { toObjects } from './objects.js';
import type { DecodeReply, DecodeRequest, FinishReply, FinishRequest } from './worker.js';

export function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof ResdetError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: `internal error (please report it): ${(e as Error)?.stack ?? String(e)}` };
}

export async function decode(req: DecodeRequest): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  try {
    const image = await decodeImage(req.path, req.maxPixels === undefined ? {} : { maxPixels: req.maxPixels });
    // sharp's buffers can be views of a larger pool: transfer a buffer of exactly these pixels.
    const rgb = image.rgb.byteOffset === 0 && image.rgb.byteLength === image.rgb.buffer.byteLength ? image.rgb : image.rgb.slice();
    return { reply: { kind: 'decoded', seq: req.seq, rgb, width: image.width, height: image.height }, transfer: [rgb.buffer as ArrayBuffer] };
  } catch (e) {
    return { reply: { kind: 'decoded', seq: req.seq, error: errorOf(e) }, transfer: [] };
  }
}

export async function finish(req: FinishRequest): Promise<FinishReply> {
  return finishOverlapped(req).done;
}

/**
 * {@link finish} in two steps: `drawn` resolves once the work that needs this thread is over (the
 * objects, the preview drawn), `done` once the preview is encoded (sharp, on libuv's pool) and on
 * disk (fsync'd there too). A caller may start its next image at `drawn`: the encode and the disk
 * flush then overlap with it.
 */
export function finishOverlapped(req: FinishRequest): { drawn: Promise<void>; done: Promise<FinishReply> } {
  let markDrawn!: () => void;
  const drawn = new Promise<void>((resolve) => (markDrawn = resolve));
  const done = (async (): Promise<FinishReply> => {
    try {
      const objects = toObjects(req.detections, req.width, req.height, req.polygons, req.tolerance, req.minArea);
      if (req.previewPath && req.rgb) {
        // The pixels are this job's own (transferred to it), so the preview is drawn over them.
        await drawPreview(req.rgb, req.width, req.height, req.detections);
        markDrawn();
        const png = await encodePng(req.rgb, req.width, req.height);
        mkdirSync(dirname(req.previewPath), { recursive: true });
        await writeFileAtomicAsync(req.previewPath, png);
      }
      return { kind: 'finished', seq: req.seq, objects };
    } catch (e) {
      return { kind: 'finished', seq: req.seq, error: errorOf(e) };
    } finally {
      markDrawn();
    }
  })();
  return { drawn, done };
}
