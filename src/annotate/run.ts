/**
 * `resdet annotate` as a function: inputs -> shard -> journal (resume) -> pipeline -> dataset.
 *
 * Every finished image is appended to the journal (fsync'd) before it counts as done, so a run
 * killed at any moment resumes where it stopped; the dataset files are rewritten from the journal
 * at checkpoints and at the end, each atomically.
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Detector } from '../detector/index.js';
import { writeDataset } from './dataset.js';
import { AnnotateError } from './errors.js';
import { inputDigest, manifestIdentity, runFingerprint } from './identity.js';
import { listInputs } from './inputs.js';
import { JOURNAL_FILE, openJournal, type Journal } from './journal.js';
import { previewNames } from './paths.js';
import { annotateImages } from './pipeline.js';
import { Progress } from './progress.js';
import type { ReplicaModel } from './replica.js';
import { selectShard, WHOLE_INPUT, type Shard } from './shard.js';
import type { Category, ImageRecord, InputImage, OutputFormat } from './types.js';

/** Options that change what is detected or written into the dataset: a resume must match them. */
export interface ResultOptions {
  scoreThreshold: number;
  maskThreshold: number;
  /** Class names to keep (all when undefined). */
  classes?: readonly string[];
  /** At most this many per image (the model's own cap when undefined). */
  maxDetections?: number;
  /** Drop detections smaller than this many pixels (mask area, or box area without masks). */
  minArea: number;
  /** Masks as polygons in instances.json (else RLE). */
  polygons: boolean;
  /** Polygon simplification, in pixels. */
  tolerance: number;
  maxPixels?: number;
}

export interface AnnotateOptions extends ResultOptions {
  inputs: readonly string[];
  /** The folder a COCO input's file_names are relative to (default: the COCO file's folder). */
  imageRoot?: string;
  out: string;
  detector: Detector;
  /** How the user named the model (recorded in the dataset's info). */
  modelName: string;
  formats: readonly OutputFormat[];
  previews: boolean;
  shard?: Shard;
  /** Start over: set an existing journal aside instead of resuming it. */
  restart: boolean;
  /** Seconds between dataset rewrites while running (default 30). */
  checkpointSeconds?: number;
  /** Helper threads (decode, encode, previews) when the networks run on this thread (jobs 1). */
  workers?: number;
  /**
   * Images annotated at once (default 1): above 1, each on an inference worker holding its own
   * copy of the model, loaded as `replicaModel` says (the model `detector` is: the CLI loads both
   * from one --model), and `detector` runs the first images while they load.
   */
  jobs?: number;
  replicaModel?: ReplicaModel;
  /** With jobs > 1: `detector` is done (every worker loaded); see PipelineOptions. */
  starterDone?: () => void;
  /** Checked before each image (Ctrl-C). */
  stopRequested?: () => boolean;
  /** One-line notices (resume, checkpoints): stderr in the CLI. */
  log: (line: string) => void;
  progressStream?: ConstructorParameters<typeof Progress>[0]['stream'];
}

export interface AnnotateSummary {
  /** Images in this run's share of the input. */
  total: number;
  /** Annotated in this run. */
  done: number;
  /** Already done by an earlier run (resumed), not redone. */
  skipped: number;
  /** Failed (this run's and earlier runs' failures that were not retried). */
  failed: number;
  detections: number;
  wallSeconds: number;
  interrupted: boolean;
  files: string[];
}

/** The polygons an output needs: asked for, or implied by YOLO / Label Studio (which take no RLE). */
export function needsPolygons(options: { polygons: boolean; formats: readonly OutputFormat[] }): boolean {
  return options.polygons || options.formats.includes('yolo') || options.formats.includes('labelstudio');
}

function categoriesOf(detector: Detector): Category[] {
  return detector.classes.slice(1).map((name, i) => ({ id: i + 1, name, supercategory: 'object' }));
}

/** Refuses inputs inside --out: every output goes there, so none can ever replace an input. */
function checkInputsOutsideOut(inputs: readonly InputImage[], out: string): void {
  for (const input of inputs) {
    const rel = relative(out, input.path);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new AnnotateError('ANNOTATE_INPUT', `${input.path}: this input is inside the output folder ${out}; choose an --out outside the inputs`);
    }
  }
}

/**
 * Refuses an --out inside an input folder that already holds other files: the walk skips --out,
 * so images there would silently go unannotated and could be replaced by outputs. An empty or
 * new folder, or one an earlier annotate wrote (it has a journal), is fine.
 */
function checkOutNotAmongInputs(specs: readonly string[], out: string): void {
  let names: string[];
  try {
    names = readdirSync(out).filter((n) => !n.startsWith('.'));
  } catch {
    return;
  }
  if (names.length === 0 || names.includes('annotate.journal')) return;
  for (const spec of specs) {
    const folder = resolve(spec);
    let isDir = false;
    try {
      isDir = statSync(folder).isDirectory();
    } catch {
      continue;
    }
    const rel = relative(folder, out);
    if (isDir && !rel.startsWith('..') && !isAbsolute(rel)) {
      throw new AnnotateError('ANNOTATE_INPUT', `--out ${out} is inside the input folder ${folder} and already holds files (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}); choose a new or empty --out outside the inputs`);
    }
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/** The dataset's records: one per input of this share, the journal's when its file is unchanged. */
function currentRecords(inputs: readonly InputImage[], bytes: readonly number[], journal: Journal): ImageRecord[] {
  const records: ImageRecord[] = [];
  inputs.forEach((input, i) => {
    const r = journal.records.get(input.fileName);
    if (r && r.bytes === bytes[i]) records.push({ ...r, index: input.index, id: input.id });
  });
  return records;
}

export async function annotate(options: AnnotateOptions): Promise<AnnotateSummary> {
  const started = performance.now();
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new AnnotateError('ANNOTATE_WORKER', `jobs must be a whole number >= 1, got ${jobs}`);
  if (jobs > 1 && !options.replicaModel) throw new AnnotateError('ANNOTATE_WORKER', `jobs ${jobs} needs replicaModel: how each worker loads its copy of the model ({ model, provider, threads })`);
  const out = resolve(options.out);
  checkOutNotAmongInputs(options.inputs, out);
  const all = await listInputs(options.inputs, { exclude: [out], imageRoot: options.imageRoot, warn: (m) => options.log(`annotate: ${m}`) });
  checkInputsOutsideOut(all, out);
  const mine = options.shard ? selectShard(all, options.shard) : all;
  const previews = options.previews ? previewNames(all) : undefined;
  const bytes = mine.map((input) => fileSize(input.path));
  const polygons = needsPolygons(options);
  const categories = categoriesOf(options.detector);
  const resultOptions = {
    scoreThreshold: options.scoreThreshold, maskThreshold: options.maskThreshold,
    classes: options.classes ? [...options.classes].sort() : null, maxDetections: options.maxDetections ?? null,
    minArea: options.minArea, polygons, tolerance: polygons ? options.tolerance : null, maxPixels: options.maxPixels ?? null,
  };
  const model = manifestIdentity(options.detector.manifest);
  const journal = await openJournal(join(out, JOURNAL_FILE), {
    fingerprint: runFingerprint({ model, options: resultOptions }), inputDigest: inputDigest(all), inputCount: all.length,
    shard: options.shard ?? WHOLE_INPUT, model, options: resultOptions, categories,
  }, { restart: options.restart });
  if (journal.recovered.movedAside) options.log(`annotate: --restart: the old journal is kept as ${journal.recovered.movedAside}`);
  if (journal.recovered.discardedBytes) options.log(`annotate: ${journal.path}: cut off a torn last record (${journal.recovered.discardedBytes} bytes) left by an interrupted run`);
  if (journal.recovered.corruptRecords) options.log(`annotate: ${journal.path}: skipped ${journal.recovered.corruptRecords} corrupt records (their images are redone)`);
  // A format's warning (e.g. a YOLO label name two images share) is said once, not at each checkpoint.
  const warned = new Set<string>();
  const meta = {
    warn: (line: string) => {
      if (!warned.has(line)) options.log(`annotate: ${line}`);
      warned.add(line);
    },
    categories, formats: options.formats, polygons: options.polygons,
    info: { description: `resdet annotate with ${options.modelName}`, model: options.modelName, shard: options.shard ? `${options.shard.k}/${options.shard.n}` : null },
  };
  let interrupted = false;
  const counts = { finished: 0, failed: 0, detections: 0 };
  try {
    const todoIndex = mine.flatMap((input, i) => {
      const r = journal.records.get(input.fileName);
      return r && r.bytes === bytes[i] ? [] : [i];
    });
    const skipped = mine.length - todoIndex.length;
    if (skipped) options.log(`annotate: resuming ${journal.path}: ${skipped} of ${mine.length} images already done, ${todoIndex.length} to do`);
    const todo = todoIndex.map((i) => mine[i]);
    const progress = new Progress({ total: todo.length, stream: options.progressStream });
    const checkpointMs = 1000 * (options.checkpointSeconds ?? 30);
    let lastCheckpoint = performance.now();
    const images = annotateImages(todo, todoIndex.map((i) => bytes[i]), {
      detector: options.detector,
      detectOptions: {
        scoreThreshold: options.scoreThreshold, maskThreshold: options.maskThreshold,
        ...(options.maxDetections ? { maxDetections: options.maxDetections } : {}),
        ...(options.classes ? { classes: [...options.classes] } : {}), ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
      },
      polygons, tolerance: options.tolerance, minArea: options.minArea, maxPixels: options.maxPixels, workers: options.workers,
      ...(jobs > 1 ? { replicas: { count: jobs, model: options.replicaModel! }, starterDone: options.starterDone } : {}),
      previewPath: options.previews ? (input) => join(out, 'previews', previews!.get(input.fileName)!) : undefined,
      stopRequested: () => {
        interrupted ||= options.stopRequested?.() ?? false;
        return interrupted;
      },
    });
    for await (const record of images) {
      journal.append(record);
      counts.finished++;
      if (record.kind === 'failed') {
        counts.failed++;
        options.log(`annotate: ${record.error}`);
      } else {
        counts.detections += record.objects.length;
      }
      progress.update(counts);
      if (performance.now() - lastCheckpoint > checkpointMs) {
        await writeDataset(out, currentRecords(mine, bytes, journal), meta);
        lastCheckpoint = performance.now();
      }
    }
    progress.update(counts, true);
    progress.end();
    const records = currentRecords(mine, bytes, journal);
    const written = await writeDataset(out, records, meta);
    return {
      total: mine.length, done: counts.finished - counts.failed, skipped, failed: records.filter((r) => r.kind === 'failed').length,
      detections: counts.detections, wallSeconds: (performance.now() - started) / 1000, interrupted, files: written.files,
    };
  } finally {
    await journal.close();
  }
}
