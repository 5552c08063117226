/** `resdet detect <images...> [--model dir] [--out dir] [--score s] [--provider p] [--json]` */
import { type Stats, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type DetectionResult, type Detector, detectDefaults, loadModel, type Provider } from '../index.js';
import { decodeImage } from '../image/decode.js';
import { PRECISIONS, type Precision } from '../modelPackage/manifest.js';
import { encodePng } from '../image/encode.js';
import { rleArea, rleEncodeWindow, rleToString } from '../../postprocess/typed.js';
import { progressReporter } from '../download/progressBar.js';
import { drawPreview } from '../preview/index.js';
import { ResdetError } from '../../postprocess/errors.js';
import { makeOutputFolder, writeFileAtomic } from './files.js';
import { BatchError, numberOption, OutputError, UsageError } from './usage.js';

export const DEFAULT_MODEL = 'shapes';
/** A folder of its own, so outputs never land among the inputs by accident. */
export const DEFAULT_OUT = 'resdet-out';

export const detectUsage = `resdet detect <image...> [--model <dir|name|url>] [--out <dir>] [options]

Detects objects and writes, per image, <name>.json (detections, masks as COCO RLE) and
<name>.png (the image with masks, boxes and labels) into --out. An output that would replace
one of the input images is refused.
  --model <m>          model package folder, bundled model name or package URL
                       (default: ${DEFAULT_MODEL}; a URL is downloaded once into the cache)
  --out <dir>          output folder, created if missing (default: ${DEFAULT_OUT})
  --score <s>          keep detections with score >= s (default ${detectDefaults.scoreThreshold})
  --mask-threshold <t> mask probability threshold (default ${detectDefaults.maskThreshold})
  --provider <p>       cpu (default), cuda or webgpu
  --threads <n>        threads per ONNX Runtime operator
  --dtype <d>          fp32 (default), or a precision variant the package holds: fp16, int8
  --no-preview         write only the JSON
  --json               print one JSON object per image instead of the summary line`;

/** The JSON written for one image. */
export function resultJson(file: string, modelName: string, r: DetectionResult): object {
  return {
    file,
    width: r.width,
    height: r.height,
    model: modelName,
    decoder: r.decoder,
    detections: r.detections.map((d) => {
      const m = d.mask;
      const rle = m?.format === 'binary' ? rleEncodeWindow(m.data, m, m.imageHeight, m.imageWidth) : undefined;
      const [x1, y1, x2, y2] = d.box;
      return {
        box: d.box,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        score: d.score,
        label: d.label,
        className: d.className,
        ...(rle ? { segmentation: { size: rle.size, counts: rleToString(rle) }, area: rleArea(rle) } : {}),
      };
    }),
    timings: r.timings,
  };
}

function summary(file: string, r: DetectionResult): string {
  const counts = new Map<string, number>();
  for (const d of r.detections) counts.set(d.className, (counts.get(d.className) ?? 0) + 1);
  const found = [...counts].map(([c, n]) => `${n} ${c}`).join(', ') || 'nothing';
  return `${file}: ${r.width}x${r.height}, ${found} (${r.timings.total.toFixed(0)} ms)`;
}

interface DetectRun {
  model: Detector;
  modelName: string;
  out: string;
  score: number;
  maskThreshold: number;
  preview: boolean;
  json: boolean;
  /** dev:ino of every input file: no output may replace one. */
  inputs: ReadonlySet<string>;
}

function identity(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

/** Refuses an output path that is one of the inputs (under any spelling of its path). */
function checkNotInput(path: string, run: DetectRun): void {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return;
  }
  if (run.inputs.has(identity(st))) throw new OutputError(path, 'is one of the input images; not overwritten (choose another --out)');
}

/** Writes one output, naming the path when the disk or the folder refuses it. */
function writeOutput(path: string, data: Uint8Array | string, run: DetectRun): void {
  checkNotInput(path, run);
  try {
    writeFileAtomic(path, data);
  } catch (e) {
    throw new OutputError(path, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
  }
}

/** Detects on one image and writes its outputs; returns how many files it wrote. */
async function detectOne(file: string, run: DetectRun): Promise<number> {
  const stem = basename(file, extname(file));
  const jsonPath = join(run.out, `${stem}.json`);
  const pngPath = join(run.out, `${stem}.png`);
  // Both outputs are checked before the work and before either is written, so a refused image
  // costs nothing and leaves nothing behind.
  checkNotInput(jsonPath, run);
  if (run.preview) checkNotInput(pngPath, run);
  // detect() is given the file so that its result names the decoder and its errors the file.
  const result = await run.model.detect(file, { scoreThreshold: run.score, maskThreshold: run.maskThreshold, masks: 'binary' });
  writeOutput(jsonPath, JSON.stringify(resultJson(file, run.modelName, result)) + '\n', run);
  if (run.preview) {
    const image = await decodeImage(file);
    await drawPreview(image.rgb, image.width, image.height, result.detections);
    writeOutput(pngPath, await encodePng(image.rgb, image.width, image.height), run);
  }
  console.log(run.json ? JSON.stringify({ ...resultJson(file, run.modelName, result), detections: result.detections.length }) : summary(file, result));
  return 1;
}

export async function detectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: {
      model: { type: 'string', short: 'm', default: DEFAULT_MODEL },
      out: { type: 'string', short: 'o', default: DEFAULT_OUT },
      score: { type: 'string', default: String(detectDefaults.scoreThreshold) },
      'mask-threshold': { type: 'string', default: String(detectDefaults.maskThreshold) },
      provider: { type: 'string', default: 'cpu' },
      threads: { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      preview: { type: 'boolean', default: true },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0) throw new UsageError('detect needs at least one image', detectUsage);
  const number = (name: string, v: string | undefined, min: number, max: number, integer = false) => numberOption(name, v, min, max, detectUsage, integer);
  const score = number('score', values.score, 0, 1)!;
  const maskThreshold = number('mask-threshold', values['mask-threshold'], 0, 1)!;
  const threads = number('threads', values.threads, 1, 1024, true);
  if (!(PRECISIONS as readonly string[]).includes(values.dtype!)) throw new UsageError(`--dtype must be ${PRECISIONS.join(', ')}, got '${values.dtype}'`, detectUsage);
  if (!['cpu', 'cuda', 'webgpu'].includes(values.provider!)) throw new UsageError(`--provider must be cpu, cuda or webgpu, got '${values.provider}'`, detectUsage);
  const out = resolve(values.out!);
  const inputs = new Set<string>();
  for (const file of positionals) {
    try {
      inputs.add(identity(statSync(file)));
    } catch {
      // a missing input is reported when it is read
    }
  }
  const removeIfUnused = makeOutputFolder(out);
  // A package URL downloads into the cache once, with the same progress display as convert.
  const remote = /^https?:\/\//i.test(values.model!);
  const model = await loadModel(values.model!, { provider: values.provider as Provider, threads, dtype: values.dtype as Precision, ...(remote ? { onProgress: progressReporter(process.stderr) } : {}) })
    .catch((e: unknown) => {
      removeIfUnused();
      throw e;
    });
  const run: DetectRun = { model, modelName: values.model!, out, score, maskThreshold, preview: values.preview!, json: values.json!, inputs };
  const stems = new Set<string>();
  let failed = 0;
  let written = 0;
  try {
    for (const file of positionals) {
      const stem = basename(file, extname(file));
      if (stems.has(stem)) {
        console.error(`${file}: skipped, another input already wrote ${stem}.json in ${out}`);
        failed++;
        continue;
      }
      stems.add(stem);
      try {
        written += await detectOne(file, run);
      } catch (e) {
        // One bad image does not stop the batch, and nothing already written is touched.
        console.error(e instanceof ResdetError ? e.message : `${file}: internal error (please report it): ${(e as Error).stack ?? String(e)}`);
        failed++;
      }
    }
  } finally {
    await model.release();
  }
  if (written === 0) removeIfUnused();
  if (failed) {
    const done = written === 0 ? 'nothing was written' : `${written} written to ${out}`;
    throw new BatchError(`${failed} of ${positionals.length} images failed; ${done}`);
  }
}
