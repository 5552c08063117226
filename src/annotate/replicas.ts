/**
 * `resdet annotate --jobs N`: N inference workers (replica.ts), each with its own copy of the
 * model, annotate N images at once; the records still come out in input order. The main thread
 * dispatches, journals and writes the dataset, and while the workers load it runs the first
 * images itself on the caller's detector (the starter: warm, where a worker takes 0.3-0.5 s to
 * load and its first image is slow; on the bundled model that was 0.7-0.9 s before the first
 * record, a tenth of a 200-image run, and 0.4 s with the starter).
 *
 * Why threads and not more ONNX Runtime threads: on the bundled model an image is a few small
 * networks plus TypeScript between them, and one session's intra-op threads mostly wait on each
 * other (measured on this project's 2-core machine: 6.0 images/s with 1 thread, 4.8 with 2 threads,
 * 10.1 with 2 workers of 1 thread each).
 */
import { Worker } from 'node:worker_threads';
import type { Detector } from '../detector/index.js';
import { AnnotateError, namingInput } from './errors.js';
import { decode, errorOf } from './imageJobs.js';
import { annotateOne } from './annotateOne.js';
import type { AnnotateRequest, ReplicaModel, ReplicaReply } from './replica.js';
import type { ImageRecord, InputImage } from './types.js';
import type { PipelineOptions } from './pipeline.js';
import { ThreadCalls } from './threadCalls.js';

type Annotated = Extract<ReplicaReply, { kind: 'annotated' }>;

/** An inference job: takes decoded images one at a time, answers each with its objects. */
interface Job {
  /** Resolves when the job can take images; rejects with the reason it never will. */
  readonly ready: Promise<void>;
  /** Images sent and not answered yet. */
  readonly load: number;
  annotate(request: AnnotateRequest): Promise<Annotated>;
  close(): Promise<void>;
}

/** Job 1: the caller's detector on the main thread, images taken in order. */
class MainThreadJob implements Job {
  readonly ready = Promise.resolve();
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly detector: Detector) {}

  get load(): number {
    return this.waiting;
  }

  annotate(request: AnnotateRequest): Promise<Annotated> {
    this.waiting++;
    const answer = this.queue.then(() => annotateOne(this.detector, request));
    this.queue = answer.then((a) => a.next, () => undefined);
    return answer.then((a) => a.reply as Promise<Annotated>, (e: unknown) => ({ kind: 'annotated', seq: request.seq, error: errorOf(e) }) as Annotated)
      .finally(() => this.waiting--);
  }

  async close(): Promise<void> {
    await this.queue;
  }
}

/** One inference worker and the images it has not answered yet. */
class Replica implements Job {
  private readonly calls: ThreadCalls<Annotated>;
  /** Resolves when the model is loaded; rejects with the reason it could not be. */
  readonly ready: Promise<void>;

  constructor(spec: ReplicaModel) {
    let loaded: () => void;
    let refused: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      loaded = resolve;
      refused = reject;
    });
    this.ready.catch(() => undefined);
    const loading = (message: unknown) => {
      const reply = message as ReplicaReply;
      if (reply.kind === 'ready') loaded();
      else if (reply.kind === 'loadFailed') refused(new AnnotateError('ANNOTATE_WORKER', `an annotate worker (--jobs) could not load the model: ${reply.error.message}`));
      else return false;
      return true;
    };
    const stopped = (why: string) => refused(new AnnotateError('ANNOTATE_WORKER', `an annotate worker (--jobs) stopped before its model was loaded: ${why}`));
    this.calls = new ThreadCalls<Annotated>(new Worker(new URL('./replica.js', import.meta.url), { workerData: spec }), loading, stopped);
  }

  /** Images sent and not answered yet. */
  get load(): number {
    return this.calls.pending;
  }

  annotate(request: AnnotateRequest): Promise<Annotated> {
    const failed = (why: string): Annotated => ({ kind: 'annotated', seq: request.seq, error: { code: 'INTERNAL', message: `internal error (please report it): an annotate worker stopped: ${why}` } });
    return this.calls.call(request, [request.rgb.buffer as ArrayBuffer], failed);
  }

  close(): Promise<void> {
    return this.calls.close();
  }
}

function failed(input: InputImage, bytes: number, error: { code: string; message: string }): ImageRecord {
  return { kind: 'failed', index: input.index, id: input.id, fileName: input.fileName, bytes, code: error.code, error: namingInput(input, error.message) };
}

function toRecord(input: InputImage, bytes: number, reply: Annotated): ImageRecord {
  if (reply.error || !reply.objects) return failed(input, bytes, reply.error ?? { code: 'INTERNAL', message: 'internal error (please report it): no objects' });
  return { kind: 'done', index: input.index, id: input.id, fileName: input.fileName, bytes, width: reply.width!, height: reply.height!, objects: reply.objects };
}

/**
 * Annotates `inputs` on `options.replicas.count` inference workers (and the starter while they
 * load), yielding one record per image in input order. At most two images per job taking images
 * are in flight (one in the networks, the next decoded and waiting), so memory holds a handful of
 * decoded images whatever the input size.
 */
export async function* annotateOnReplicas(inputs: readonly InputImage[], bytes: readonly number[], options: PipelineOptions & { replicas: { count: number; model: ReplicaModel } }): AsyncGenerator<ImageRecord> {
  const starter = new MainThreadJob(options.detector);
  const workers = Array.from({ length: options.replicas.count }, () => new Replica(options.replicas.model));
  const jobs: Job[] = [starter, ...workers];
  let loadFailure: Error | null = null;
  const started = new Set<Job>();
  try {
    // The jobs taking images: the ready ones, the starter only until a worker is ready.
    const pool = () => (started.size > 1 ? [...started].filter((j) => j !== starter) : [...started]);
    const windowOf = () => 2 * pool().length;
    const results = new Map<number, Promise<ImageRecord>>();
    let next = 0;
    let outstanding = 0;
    let yielded = 0;
    const dispatch = () => {
      while (next < inputs.length && outstanding < windowOf() && next - yielded < 4 * windowOf() && !options.stopRequested?.() && !loadFailure) {
        const i = next++;
        const input = inputs[i];
        const previewPath = options.previewPath?.(input);
        outstanding++;
        results.set(i, decode({ kind: 'decode', seq: i, path: input.path, maxPixels: options.maxPixels }).then(async ({ reply: image }) => {
          if (image.error || !image.rgb) return failed(input, bytes[i], image.error ?? { code: 'INTERNAL', message: 'internal error (please report it): no pixels' });
          // The least busy job takes it (images differ in size, so round robin would queue).
          const job = pool().reduce((a, b) => (b.load < a.load ? b : a));
          return toRecord(input, bytes[i], await job.annotate({
            kind: 'annotate', seq: i, rgb: image.rgb, width: image.width!, height: image.height!, detectOptions: options.detectOptions,
            polygons: options.polygons, tolerance: options.tolerance, minArea: options.minArea, ...(previewPath ? { previewPath } : {}),
          }));
        }).finally(() => {
          outstanding--;
          dispatch();
        }));
      }
    };
    // Each job takes images from the moment it is ready: the starter at once, workers as they load.
    for (const job of jobs) {
      job.ready.then(() => {
        started.add(job);
        dispatch();
      }, (e: Error) => {
        loadFailure ??= e;
      });
    }
    // Once every worker is ready and the starter has finished its images, its model can go.
    void Promise.all(workers.map((w) => w.ready)).then(() => starter.close()).then(() => options.starterDone?.(), () => undefined);
    await starter.ready;
    for (let i = 0; i < inputs.length; i++) {
      dispatch();
      if (loadFailure) throw loadFailure;
      const record = results.get(i);
      if (!record) break;
      results.delete(i);
      yielded = i + 1;
      const done = await record;
      if (loadFailure) throw loadFailure;
      yield done;
    }
    // A worker that failed after the last image was sent still says so.
    await Promise.allSettled(jobs.map((j) => j.ready));
    if (loadFailure) throw loadFailure;
  } finally {
    await Promise.all(jobs.map((j) => j.close()));
  }
}
