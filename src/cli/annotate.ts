/** `resdet annotate <inputs...> --out <dir> [options]`: a folder of images -> a dataset, resumable. */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { detectDefaults, loadModel, type Provider } from '../index.js';
import { PRECISIONS, type Precision } from '../modelPackage/manifest.js';
import { annotate, type AnnotateSummary } from '../annotate/run.js';
import { parseShard } from '../annotate/shard.js';
import type { OutputFormat } from '../annotate/types.js';
import { progressReporter } from '../download/progressBar.js';
import { DEFAULT_MODEL } from './detect.js';
import { makeOutputFolder } from './files.js';
import { BatchError, InterruptedError, numberOption, UsageError } from './usage.js';

const FORMATS: readonly OutputFormat[] = ['coco', 'yolo', 'labelstudio'];

export const annotateUsage = `resdet annotate <folder|glob|list.txt|coco.json>... --out <dir> [options]

Annotates every image of the inputs into a dataset in --out: instances.json (COCO instances,
masks as RLE or polygons, with scores), failures.json (images that could not be read, with the
error), and on request YOLO segmentation labels, Label Studio predictions and previews. Folders
are walked recursively in a stable order; a COCO file's images keep their ids and file names.
Every image is journaled as it is done (--out/annotate.journal): the same command resumes an
interrupted run (Ctrl-C, a crash, kill -9) without redoing done images. Ctrl-C once finishes the
image in flight and writes the dataset; twice exits at once (still resumable).
  --out <dir>            the dataset folder (required; created if missing; must not hold inputs)
  --model <m>            model package folder, bundled model name or package URL (default: ${DEFAULT_MODEL})
  --score <s>            keep detections with score >= s (default ${detectDefaults.scoreThreshold})
  --mask-threshold <t>   mask probability threshold (default ${detectDefaults.maskThreshold})
  --classes <a,b,...>    keep only these classes
  --max-detections <n>   at most n detections per image (default: the model's own cap)
  --min-area <px>        drop detections smaller than px pixels (default 0)
  --format <f>           also write yolo (Ultralytics segmentation: yolo/) or labelstudio
                         (labelstudio.json + labelstudio-config.xml); repeatable or a,b;
                         coco (instances.json) is always written
  --polygons             masks as polygons in instances.json instead of RLE
  --tolerance <px>       polygon simplification tolerance in pixels (default 1)
  --previews             also write previews/<image>.png (masks, boxes, labels)
  --shard <K/N>          annotate only share K of N (1 <= K <= N); join with resdet merge
  --image-root <dir>     the folder a COCO input's file_names are relative to (default: its folder)
  --restart              set an existing journal aside and start over (instead of resuming)
  --max-pixels <n>       refuse images over n pixels (default 100000000)
  --provider <p>         cpu (default), cuda or webgpu
  --dtype <d>            fp32 (default), or a precision variant the package holds: fp16, int8
  --jobs <n>             images annotated at once, each by its own copy of the model on its own
                         thread (default: the CPU's cores, at most 4, on cpu; 1 on a GPU)
  --threads <n>          ONNX Runtime threads per job (default: the cores shared among the jobs;
                         with one job, the cores less the one that decodes and encodes images)
Exit codes: 0 every image annotated; 1 some images failed (listed in failures.json and on
stderr) or the run could not start; 2 a bad command line; 130 stopped by Ctrl-C (resumable).`;

/**
 * ONNX Runtime's threads when --threads is not given: the cores the helper threads leave. On 2
 * cores a second inference thread only fights the helper thread and the decoder's (measured on
 * this project's 2-core machine with the bundled model, other work running: 5.8 images/s with 1
 * thread, 2.4 with 2).
 */
export function defaultThreads(workers: number): number {
  return Math.max(1, availableParallelism() - workers);
}

/**
 * Images annotated at once when --jobs is not given: one per core (at most 4) on the CPU, where
 * a session's own threads scale poorly on small networks (measured on this project's 2-core
 * machine, bundled model: 10.1 images/s from 2 jobs of 1 thread, 6.0 from 1 job of 1 thread,
 * 4.8 from 1 job of 2); one on a GPU, which the jobs would only queue for.
 */
export function defaultJobs(provider: string): number {
  return provider === 'cpu' ? Math.max(1, Math.min(4, availableParallelism())) : 1;
}

/** ONNX Runtime threads per job when --threads is not given: the cores shared among the jobs. */
export function jobThreads(jobs: number, workers: number): number {
  return jobs > 1 ? Math.max(1, Math.floor(availableParallelism() / jobs)) : defaultThreads(workers);
}

function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function summaryLine(out: string, s: AnnotateSummary): string {
  const parts = [`${s.done} annotated`, `${s.skipped} already done`, `${s.failed} failed`, `${s.detections} detections`];
  return `annotate: ${s.total} images: ${parts.join(', ')} in ${s.wallSeconds.toFixed(1)} s -> ${out}`;
}

/** Ctrl-C: the first asks the run to stop after the image in flight; the second exits at once. */
function interruptHandler(): { requested: () => boolean; remove: () => void } {
  let stop = false;
  const onSigint = () => {
    if (stop) {
      process.stderr.write('\nannotate: stopped at once; the journal holds every image finished so far (run the same command to resume)\n');
      process.exit(130);
    }
    stop = true;
    process.stderr.write('\nannotate: Ctrl-C: finishing the image in flight and writing the dataset (Ctrl-C again to exit at once)\n');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return { requested: () => stop, remove: () => { process.off('SIGINT', onSigint); process.off('SIGTERM', onSigint); } };
}

export async function annotateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      model: { type: 'string', short: 'm', default: DEFAULT_MODEL },
      score: { type: 'string', default: String(detectDefaults.scoreThreshold) },
      'mask-threshold': { type: 'string', default: String(detectDefaults.maskThreshold) },
      classes: { type: 'string', multiple: true },
      'max-detections': { type: 'string' },
      'min-area': { type: 'string', default: '0' },
      format: { type: 'string', multiple: true },
      polygons: { type: 'boolean', default: false },
      tolerance: { type: 'string', default: '1' },
      previews: { type: 'boolean', default: false },
      shard: { type: 'string' },
      'image-root': { type: 'string' },
      restart: { type: 'boolean', default: false },
      'max-pixels': { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
      threads: { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      jobs: { type: 'string' },
      workers: { type: 'string' },
      'checkpoint-seconds': { type: 'string', default: '30' },
    },
  });
  const usage = annotateUsage;
  if (positionals.length === 0) throw new UsageError('annotate needs at least one input (a folder, glob, list file or COCO file)', usage);
  if (!values.out) throw new UsageError('annotate needs --out <dir>, the dataset folder', usage);
  const num = (name: string, min: number, max: number, integer = false) => numberOption(name, values[name as keyof typeof values] as string | undefined, min, max, usage, integer);
  const formats = splitList(values.format);
  for (const f of formats) if (!FORMATS.includes(f as OutputFormat)) throw new UsageError(`--format must be ${FORMATS.join(', ')}, got '${f}'`, usage);
  if (!['cpu', 'cuda', 'webgpu'].includes(values.provider!)) throw new UsageError(`--provider must be cpu, cuda or webgpu, got '${values.provider}'`, usage);
  if (!(PRECISIONS as readonly string[]).includes(values.dtype!)) throw new UsageError(`--dtype must be ${PRECISIONS.join(', ')}, got '${values.dtype}'`, usage);
  let shard;
  try {
    shard = values.shard === undefined ? undefined : parseShard(values.shard);
  } catch (e) {
    throw new UsageError((e as Error).message, usage);
  }
  const classes = splitList(values.classes);
  const out = resolve(values.out);
  const options = {
    scoreThreshold: num('score', 0, 1)!, maskThreshold: num('mask-threshold', 0, 1)!,
    maxDetections: num('max-detections', 1, 100_000, true), minArea: num('min-area', 0, Number.MAX_SAFE_INTEGER)!,
    tolerance: num('tolerance', 0, 1000)!, maxPixels: num('max-pixels', 1, Number.MAX_SAFE_INTEGER, true),
    threads: num('threads', 1, 1024, true), jobs: num('jobs', 1, 64, true), workers: num('workers', 1, 64, true), checkpointSeconds: num('checkpoint-seconds', 0, 86_400)!,
  };
  const removeIfUnused = makeOutputFolder(out);
  let summary: AnnotateSummary;
  try {
    const remote = /^https?:\/\//i.test(values.model!);
    const provider = values.provider as Provider;
    const dtype = values.dtype as Precision;
    const jobs = options.jobs ?? defaultJobs(provider);
    const threads = options.threads ?? jobThreads(jobs, options.workers ?? 1);
    // Loaded here once (a URL is downloaded into the cache, the classes are checked); with jobs > 1
    // each job then loads its own copy from the same place, and this one runs the first images
    // while they load and is released once they have.
    const detector = await loadModel(values.model!, { provider, threads, dtype, ...(remote ? { onProgress: progressReporter(process.stderr) } : {}) });
    // A class the model does not have is refused here, before any image is read.
    if (classes.length) {
      const unknown = classes.filter((c) => !detector.classes.slice(1).includes(c));
      if (unknown.length) {
        await detector.release();
        throw new UsageError(`--classes: ${unknown.join(', ')} not among the model's classes (${detector.classes.slice(1).join(', ')})`, usage);
      }
    }
    const interrupt = interruptHandler();
    try {
      summary = await annotate({
        ...options, inputs: positionals, imageRoot: values['image-root'], out, detector, modelName: values.model!, classes: classes.length ? classes : undefined,
        formats: formats as OutputFormat[], polygons: values.polygons!, previews: values.previews!, shard, restart: values.restart!,
        jobs, replicaModel: { model: values.model!, provider, threads, dtype }, starterDone: () => void detector.release(),
        stopRequested: interrupt.requested, log: (line) => process.stderr.write(line + '\n'),
      });
    } finally {
      interrupt.remove();
      await detector.release();
    }
    console.log(summaryLine(out, summary));
  } catch (e) {
    // refused before anything was written (model, classes, inputs): no empty --out is left behind
    removeIfUnused();
    throw e;
  }
  if (summary.interrupted) throw new InterruptedError(`stopped by Ctrl-C: ${out} holds a valid dataset of what was done; run the same command to resume`);
  if (summary.failed) throw new BatchError(`${summary.failed} of ${summary.total} images failed (see ${resolve(out, 'failures.json')})`);
}
