/**
 * An inference worker of `resdet annotate`: a thread holding its own copy of the model, which
 * does the whole of an image (networks, dataset objects, preview) and answers with its objects;
 * the next image starts while the last one's preview is encoded and flushed to disk. Several run
 * side by side (`--jobs`), each with its own ONNX Runtime threads: an onnxruntime-node
 * `session.run` holds its thread until it returns, so images only run through the networks at
 * the same time on different threads.
 *
 * Images arrive decoded (the main thread decodes them, under one decode lock: see
 * src/image/vipsReason.ts) and are taken in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DetectOptions } from '../detector/result.js';
import { loadModel } from '../load.js';
import type { Precision } from '../modelPackage/manifest.js';
import type { Provider } from '../runtime/index.js';
import { errorOf } from './imageJobs.js';
import { annotateOne } from './annotateOne.js';
import type { AnnotatedObject } from './types.js';

/** How a replica loads its copy of the model (what `loadModel` takes, minus callbacks). */
export interface ReplicaModel {
  /** A package folder, bundled model name or package URL (a URL is read from the download cache). */
  model: string;
  provider: Provider;
  threads: number;
  dtype?: Precision;
}

/** One decoded image, through the networks to its dataset objects and preview. */
export interface AnnotateRequest {
  kind: 'annotate';
  seq: number;
  /** [height, width, 3] 8-bit RGB, transferred. */
  rgb: Uint8Array;
  width: number;
  height: number;
  detectOptions: Omit<DetectOptions, 'masks' | 'maskExtent' | 'signal'>;
  polygons: boolean;
  tolerance: number;
  minArea: number;
  /** The preview PNG to write (absolute, inside --out), or undefined for none. */
  previewPath?: string;
}

export type ReplicaReply =
  | { kind: 'ready' }
  | { kind: 'loadFailed'; error: { code: string; message: string } }
  | {
    kind: 'annotated'; seq: number; width?: number; height?: number; objects?: AnnotatedObject[];
    /** Not naming the file yet. */
    error?: { code: string; message: string };
  };

if (parentPort) {
  const port = parentPort;
  const spec = workerData as ReplicaModel;
  // The pipeline sends no image before 'ready'; the queue keeps images one at a time after it.
  const loaded = loadModel(spec.model, { provider: spec.provider, threads: spec.threads, ...(spec.dtype ? { dtype: spec.dtype } : {}) });
  loaded.then(() => port.postMessage({ kind: 'ready' } satisfies ReplicaReply), (e) => port.postMessage({ kind: 'loadFailed', error: errorOf(e) } satisfies ReplicaReply));
  let queue: Promise<unknown> = loaded.catch(() => undefined);
  port.on('message', (req: AnnotateRequest) => {
    queue = queue.then(async () => {
      try {
        const { next, reply } = await annotateOne(await loaded, req);
        void reply.then((r) => port.postMessage(r));
        await next;
      } catch (e) {
        port.postMessage({ kind: 'annotated', seq: req.seq, error: errorOf(e) } satisfies ReplicaReply);
      }
    });
  });
}
