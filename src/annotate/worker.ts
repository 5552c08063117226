/**
 * The helper thread of `resdet annotate`: everything of an image except the networks. While the
 * main thread runs inference on image i, this thread decodes image i + 1 and turns image i - 1's
 * detections into dataset objects (RLE, polygons) and its preview PNG. Messages carry pixels and
 * masks as transferred buffers, never copies.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { ResdetError } from '../../postprocess/errors.js';
import type { Detection } from '../detector/result.js';
import { decodeImage } from '../image/decode.js';
import { encodePng } from '../image/encode.js';
import { drawPreview } from '../preview/index.js';
import { writeFileAtomic } from '../cli/files.js';
import { toObjects } from './objects.js';
import type { AnnotatedObject } from './types.js';

/** Decode `path` into 8-bit RGB. */
export interface DecodeRequest {
  kind: 'decode';
  seq: number;
  path: string;
  maxPixels?: number;
}

export interface DecodeReply {
  kind: 'decoded';
  seq: number;
  rgb?: Uint8Array;
  width?: number;
  height?: number;
  error?: { code: string; message: string };
}

/** Turn one image's detections into dataset objects, and draw its preview when `previewPath` is set. */
export interface FinishRequest {
  kind: 'finish';
  seq: number;
  detections: Detection[];
  width: number;
  height: number;
  polygons: boolean;
  tolerance: number;
  minArea: number;
  /** With `rgb`: the PNG to write (absolute, inside --out). */
  previewPath?: string;
  rgb?: Uint8Array;
}

export interface FinishReply {
  kind: 'finished';
  seq: number;
  objects?: AnnotatedObject[];
  error?: { code: string; message: string };
}

export type WorkerRequest = DecodeRequest | FinishRequest;
export type WorkerReply = DecodeReply | FinishReply;

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof ResdetError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: `internal error (please report it): ${(e as Error)?.stack ?? String(e)}` };
}

async function decode(req: DecodeRequest): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  try {
    const image = await decodeImage(req.path, req.maxPixels === undefined ? {} : { maxPixels: req.maxPixels });
    // sharp's buffers can be views of a larger pool: transfer a buffer of exactly these pixels.
    const rgb = image.rgb.byteOffset === 0 && image.rgb.byteLength === image.rgb.buffer.byteLength ? image.rgb : image.rgb.slice();
    return { reply: { kind: 'decoded', seq: req.seq, rgb, width: image.width, height: image.height }, transfer: [rgb.buffer as ArrayBuffer] };
  } catch (e) {
    return { reply: { kind: 'decoded', seq: req.seq, error: errorOf(e) }, transfer: [] };
  }
}

async function finish(req: FinishRequest): Promise<FinishReply> {
  try {
    const objects = toObjects(req.detections, req.width, req.height, req.polygons, req.tolerance, req.minArea);
    if (req.previewPath && req.rgb) {
      const rgba = await drawPreview(req.rgb, req.width, req.height, req.detections);
      const png = await encodePng(rgba, req.width, req.height);
      mkdirSync(dirname(req.previewPath), { recursive: true });
      writeFileAtomic(req.previewPath, png);
    }
    return { kind: 'finished', seq: req.seq, objects };
  } catch (e) {
    return { kind: 'finished', seq: req.seq, error: errorOf(e) };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (req: WorkerRequest) => {
    if (req.kind === 'decode') {
      void decode(req).then(({ reply, transfer }) => port.postMessage(reply, transfer));
    } else {
      void finish(req).then((reply) => port.postMessage(reply));
    }
  });
}
