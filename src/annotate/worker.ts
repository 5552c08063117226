/**
 * The helper thread of `resdet annotate`: everything of an image except the networks. While the
 * main thread runs inference on image i, this thread decodes image i + 1 and turns image i - 1's
 * detections into dataset objects (RLE, polygons) and its preview PNG. Messages carry pixels and
 * masks as transferred buffers, never copies.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Detection } from '../detector/result.js';
import { shareDecodeLock } from '../image/decodeLock.js';
import { decode, finish } from './imageJobs.js';
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

/** What a helper thread starts with: the main thread's decode lock, so that a failed file's error text is its own. */
export interface HelperData {
  decodeLock: SharedArrayBuffer;
}

export type WorkerRequest = DecodeRequest | FinishRequest;
export type WorkerReply = DecodeReply | FinishReply;

if (parentPort) {
  const port = parentPort;
  shareDecodeLock((workerData as HelperData).decodeLock);
  port.on('message', (req: WorkerRequest) => {
    if (req.kind === 'decode') {
      void decode(req).then(({ reply, transfer }) => port.postMessage(reply, transfer));
    } else {
      void finish(req).then((reply) => port.postMessage(reply));
    }
  });
}
