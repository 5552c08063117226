/**
 * The image pipeline of `resdet annotate`, three stages deep:
 *
 *   helper thread: decode i+1 ..   main thread: detect i   helper thread: objects + preview of i-1
 *
 * With `replicas` the images go to inference workers instead (replicas.ts, `--jobs`). Otherwise
 * inference (ONNX Runtime's own threads) runs on the main thread; decoding, RLE and polygon
 * encoding and preview drawing run on helper threads (src/annotate/worker.ts) at the same time,
 * so on 2 cores the JavaScript around the networks overlaps with them. Records come out in input
 * order; at most `prefetch` decoded images wait in memory.
 */
import { Worker } from 'node:worker_threads';
import type { Detector } from '../detector/index.js';
import type { DetectOptions } from '../detector/result.js';
import type { Detection } from '../detector/result.js';
import { namingInput } from './errors.js';
import { toObjects } from './objects.js';
import type { ReplicaModel } from './replica.js';
import { annotateOnReplicas } from './replicas.js';
import { ThreadCalls } from './threadCalls.js';
import { decodeLockBuffer } from '../image/decodeLock.js';
import type { DecodeReply, FinishReply, HelperData, WorkerReply, WorkerRequest } from './worker.js';
import type { ImageRecord, InputImage } from './types.js';

export interface PipelineOptions {
  detector: Detector;
  /** Passed to every `detect` (masks are always 'binary' here). */
  detectOptions: Omit<DetectOptions, 'masks' | 'maskExtent' | 'signal'>;
  polygons: boolean;
  tolerance: number;
  minArea: number;
  maxPixels?: number;
  /** The preview PNG of an image (absolute, inside --out), or undefined for none. */
  previewPath?: (input: InputImage) => string | undefined;
  /** Helper threads (default 1). */
  workers?: number;
  /** Decoded images kept ahead of inference (default 2). */
  prefetch?: number;
  /** Checked before each image: when true, the images in flight finish and the stream ends. */
  stopRequested?: () => boolean;
  /**
   * Run the networks on this many inference workers, each loading its own copy of `model`
   * (replicas.ts), `detector` on this thread only until they are loaded; `workers` and `prefetch`
   * then do not apply.
   */
  replicas?: { count: number; model: ReplicaModel };
  /**
   * With `replicas`: called once every worker has loaded and `detector` has finished the first
   * images it ran meanwhile; it takes no more (the CLI releases it then).
   */
  starterDone?: () => void;
}

/** One helper thread and the requests it has not answered yet. */
class Helper {
  private readonly calls = new ThreadCalls<WorkerReply>(new Worker(new URL('./worker.js', import.meta.url), { workerData: { decodeLock: decodeLockBuffer() } satisfies HelperData }));

  call<R extends WorkerReply>(request: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<R> {
    const kind = request.kind === 'decode' ? 'decoded' : 'finished';
    const failed = (why: string) => ({ kind, seq: request.seq, error: { code: 'INTERNAL', message: `internal error (please report it): annotate's helper thread stopped: ${why}` } }) as WorkerReply;
    return this.calls.call(request, transfer, failed) as Promise<R>;
  }

  close(): Promise<void> {
    return this.calls.close();
  }
}

function failed(input: InputImage, bytes: number, error: { code: string; message: string }): ImageRecord {
  return { kind: 'failed', index: input.index, id: input.id, fileName: input.fileName, bytes, code: error.code, error: error.message };
}

/**
 * Annotates `inputs` in order, yielding one record per image (done or failed) as each completes.
 * @param bytes the input files' sizes, recorded with each image (a resume redoes changed files)
 */
export async function* annotateImages(inputs: readonly InputImage[], bytes: readonly number[], options: PipelineOptions): AsyncGenerator<ImageRecord> {
  if (options.replicas) {
    yield* annotateOnReplicas(inputs, bytes, { ...options, replicas: options.replicas });
    return;
  }
  const helpers = Array.from({ length: Math.max(1, options.workers ?? 1) }, () => new Helper());
  const prefetch = Math.max(1, options.prefetch ?? 2);
  const helperOf = (i: number) => helpers[i % helpers.length];
  const decoded = new Map<number, Promise<DecodeReply>>();
  const requestDecode = (i: number) => {
    if (i < inputs.length && !decoded.has(i)) {
      decoded.set(i, helperOf(i).call<DecodeReply>({ kind: 'decode', seq: 2 * i, path: inputs[i].path, maxPixels: options.maxPixels }));
    }
  };
  // The previous image's objects and preview, being made while this image runs through the networks.
  let pending: Promise<ImageRecord> | null = null;
  try {
    for (let i = 0; i < prefetch; i++) requestDecode(i);
    for (let i = 0; i < inputs.length; i++) {
      if (options.stopRequested?.()) break;
      const input = inputs[i];
      const image = await decoded.get(i)!;
      decoded.delete(i);
      requestDecode(i + prefetch);
      let record: Promise<ImageRecord>;
      if (image.error || !image.rgb) {
        record = Promise.resolve(failed(input, bytes[i], image.error ?? { code: 'INTERNAL', message: 'internal error (please report it): no pixels' }));
      } else {
        // Inference here, while the helper thread finishes the previous image; this image's
        // objects and preview are then made while the next one runs.
        const detected = await detectImage(input, bytes[i], image as Required<DecodeReply>, options);
        record = 'kind' in detected ? Promise.resolve(detected) : finishImage(input, bytes[i], i, detected, image as Required<DecodeReply>, helperOf(i), options);
      }
      if (pending) yield await pending;
      pending = record;
    }
    if (pending) yield await pending;
    pending = null;
  } finally {
    await Promise.all(helpers.map((h) => h.close()));
  }
}

/** Runs the networks on one decoded image, on the main thread: its detections, or its failure. */
async function detectImage(input: InputImage, bytes: number, image: Required<DecodeReply>, options: PipelineOptions): Promise<ImageRecord | { detections: Detection[] }> {
  const { rgb, width, height } = image;
  try {
    const result = await options.detector.detect({ data: rgb, width, height, channels: 3 }, { ...options.detectOptions, masks: 'binary' });
    return { detections: result.detections };
  } catch (e) {
    const error = e as { code?: unknown; message?: unknown };
    const known = typeof error.code === 'string' && typeof error.message === 'string';
    return failed(input, bytes, known
      ? { code: error.code as string, message: namingInput(input, error.message as string) }
      : { code: 'INTERNAL', message: `${input.path}: internal error (please report it): ${(e as Error)?.stack ?? String(e)}` });
  }
}

/** Hands one image's detections to a helper thread for its objects and preview. */
async function finishImage(
  input: InputImage, bytes: number, seq: number, detected: { detections: Detection[] }, image: Required<DecodeReply>, helper: Helper, options: PipelineOptions,
): Promise<ImageRecord> {
  const { rgb, width, height } = image;
  const previewPath = options.previewPath?.(input);
  if (!previewPath && !options.polygons) {
    // RLE alone takes well under a millisecond: less than the round trip to the helper thread.
    const objects = toObjects(detected.detections, width, height, false, options.tolerance, options.minArea);
    return { kind: 'done', index: input.index, id: input.id, fileName: input.fileName, bytes, width, height, objects };
  }
  const reply = await helper.call<FinishReply>({
    kind: 'finish', seq: 2 * seq + 1, detections: detected.detections, width, height,
    polygons: options.polygons, tolerance: options.tolerance, minArea: options.minArea,
    ...(previewPath ? { previewPath, rgb } : {}),
  }, previewPath ? [rgb.buffer as ArrayBuffer] : []);
  if (reply.error || !reply.objects) return failed(input, bytes, reply.error ? { code: reply.error.code, message: namingInput(input, reply.error.message) } : { code: 'INTERNAL', message: 'no objects' });
  return { kind: 'done', index: input.index, id: input.id, fileName: input.fileName, bytes, width, height, objects: reply.objects };
}
