/** `resdet detect <images...> [--model dir] [--out dir] [--score s] [--provider p] [--json]` */
import { mkdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type DetectionResult, type Detector, loadModel, type Provider } from '../index.js';
import { decodeImage } from '../image/decode.js';
import { encodePng } from '../image/encode.js';
import { rleArea, rleEncode, rleToString } from '../../postprocess/index.js';
import { drawPreview } from '../preview/index.js';
import { writeFileAtomic } from './files.js';
import { BatchError, UsageError } from './usage.js';

export const DEFAULT_MODEL = 'shapes';

export const detectUsage = `resdet detect <image...> [--model <dir|name>] [--out <dir>] [options]

Detects objects and writes, per image, <name>.json (detections, masks as COCO RLE) and
<name>.png (the image with masks, boxes and labels) into --out (default: the current folder).
  --model <dir|name>   model package folder or bundled model name (default: ${DEFAULT_MODEL})
  --out <dir>          output folder (created if missing)
  --score <s>          keep detections with score >= s (default 0.5)
  --mask-threshold <t> mask probability threshold (default 0.5)
  --provider <p>       cpu (default), cuda or webgpu
  --threads <n>        threads per ONNX Runtime operator
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
      const rle = d.mask?.format === 'binary' ? rleEncode(d.mask.data, d.mask.height, d.mask.width) : undefined;
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

async function detectOne(model: Detector, modelName: string, file: string, out: string, opts: { score: number; maskThreshold: number; preview: boolean; json: boolean }): Promise<void> {
  const result = await model.detect(file, { scoreThreshold: opts.score, maskThreshold: opts.maskThreshold, masks: 'binary' });
  const stem = basename(file, extname(file));
  writeFileAtomic(join(out, `${stem}.json`), JSON.stringify(resultJson(file, modelName, result)) + '\n');
  if (opts.preview) {
    const image = await decodeImage(file);
    const rgba = await drawPreview(image.rgb, image.width, image.height, result.detections);
    writeFileAtomic(join(out, `${stem}.png`), await encodePng(rgba, image.width, image.height));
  }
  console.log(opts.json ? JSON.stringify({ ...resultJson(file, modelName, result), detections: result.detections.length }) : summary(file, result));
}

export async function detectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: {
      model: { type: 'string', short: 'm', default: DEFAULT_MODEL },
      out: { type: 'string', short: 'o', default: '.' },
      score: { type: 'string', default: '0.5' },
      'mask-threshold': { type: 'string', default: '0.5' },
      provider: { type: 'string', default: 'cpu' },
      threads: { type: 'string' },
      preview: { type: 'boolean', default: true },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0) throw new UsageError('detect needs at least one image', detectUsage);
  const number = (name: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a number in [${min}, ${max}], got '${v}'`, detectUsage);
    return n;
  };
  const score = number('score', values.score, 0, 1)!;
  const maskThreshold = number('mask-threshold', values['mask-threshold'], 0, 1)!;
  const threads = number('threads', values.threads, 1, 1024);
  if (!['cpu', 'cuda', 'webgpu'].includes(values.provider!)) throw new UsageError(`--provider must be cpu, cuda or webgpu, got '${values.provider}'`, detectUsage);
  const out = resolve(values.out!);
  mkdirSync(out, { recursive: true });
  const model = await loadModel(values.model!, { provider: values.provider as Provider, threads });
  const stems = new Set<string>();
  let failed = 0;
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
        await detectOne(model, values.model!, file, out, { score, maskThreshold, preview: values.preview!, json: values.json! });
      } catch (e) {
        // One bad image does not stop the batch, and nothing already written is touched.
        console.error((e as Error).message);
        failed++;
      }
    }
  } finally {
    await model.release();
  }
  if (failed) throw new BatchError(`${failed} of ${positionals.length} images failed; the others were written to ${out}`);
}
