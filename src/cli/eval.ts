/** `resdet eval --annotations <coco.json> (--detections <results.json> | --model <dir> --images <dir>)` */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CocoFormatError, categoryIdsByName, indexGroundTruth, loadResults, toCocoResults,
  type CocoDataset, type CocoDetection, type IouType,
} from '../eval/index.js';
import { evaluateIndexed } from '../eval/index.js';
import { writeFileAtomic } from './files.js';
import { numberOption, UsageError } from './usage.js';
import { PRECISIONS, type Precision } from '../modelPackage/manifest.js';
import { ResdetError } from '../../postprocess/errors.js';

export const evalUsage = `resdet eval --annotations <coco.json> --detections <results.json> [options]

COCO evaluation equal to pycocotools' COCOeval: prints its 12-line summary per IoU type.
  --annotations <file>  COCO ground truth (images, annotations, categories)
  --detections <file>   COCO results: [{image_id, category_id, score, bbox and/or segmentation}]
  --model <dir>         instead of --detections: run this model package on the ground truth's
  --images <dir>        images (<dir>/<file_name>) first; labels map to categories by class name.
                        Every image must be found inside <dir> (after links are resolved; an
                        absolute or escaping file_name is refused) and decode: otherwise each
                        one is named (images[i].file_name) and eval exits 1 before any AP is
                        printed, since AP over the remaining images would silently differ
  --dtype <d>           with --model: fp32 (default), or a precision variant the package holds
                        (fp16, int8; see resdet quantize)
  --threads <n>         with --model: threads per ONNX Runtime operator
  --write-detections <file>  with --model: also save the results it evaluates
  --iou bbox|segm|both  what to evaluate (default: both when results have segmentations, else bbox)
  --json                print {bbox: {stats, metrics, summary}, segm: ...} as JSON instead`;

const metricNames = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'];

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CocoFormatError(file, '(file)', `cannot be read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CocoFormatError(file, '(file)', `is not valid JSON: ${(e as Error).message}`);
  }
}

export async function evalCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      annotations: { type: 'string' },
      detections: { type: 'string' },
      model: { type: 'string' },
      images: { type: 'string' },
      'write-detections': { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      threads: { type: 'string' },
      iou: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.annotations) throw new UsageError('eval needs --annotations <coco.json>', evalUsage);
  if (Boolean(values.detections) === Boolean(values.model)) throw new UsageError('eval needs either --detections <file> or --model <dir> --images <dir>', evalUsage);
  if (values.model && !values.images) throw new UsageError('--model needs --images <dir>', evalUsage);
  if (values.iou !== undefined && !['bbox', 'segm', 'both'].includes(values.iou)) throw new UsageError(`--iou must be bbox, segm or both, got '${values.iou}'`, evalUsage);
  if (!(PRECISIONS as readonly string[]).includes(values.dtype!)) throw new UsageError(`--dtype must be ${PRECISIONS.join(', ')}, got '${values.dtype}'`, evalUsage);
  const runtime = { dtype: values.dtype as Precision, threads: numberOption('threads', values.threads, 1, 1024, evalUsage, true) };
  const gtFile = values.annotations;
  const groundTruth = readJson(gtFile);
  const detections = values.detections
    ? readJson(values.detections)
    : await runModel(values.model!, values.images!, groundTruth, gtFile, values.iou !== 'bbox', runtime);
  if (values.model && (values.iou === 'segm' || values.iou === 'both') && (detections as CocoDetection[]).some((d) => !d.segmentation)) {
    throw new UsageError(`--iou ${values.iou}: ${values.model} gave detections without masks (no mask head?); use --iou bbox`, evalUsage);
  }
  if (values['write-detections']) writeFileAtomic(values['write-detections'], JSON.stringify(detections));
  const dtFile = values.detections ?? `detections of ${values.model}`;
  const hasMasks = Array.isArray(detections) && detections.length > 0 && (detections[0] as CocoDetection)?.segmentation !== undefined;
  const iou = values.iou ?? (hasMasks ? 'both' : 'bbox');
  const types: IouType[] = iou === 'both' ? ['bbox', 'segm'] : [iou as IouType];
  const report: Record<string, { stats: number[]; metrics: Record<string, number>; summary: string }> = {};
  for (const iouType of types) {
    const gt = indexGroundTruth(groundTruth, gtFile, iouType);
    const r = evaluateIndexed(gt, loadResults(detections, gt, dtFile, iouType), iouType);
    report[iouType] = { stats: r.stats, metrics: Object.fromEntries(metricNames.map((n, i) => [n, r.stats[i]])), summary: r.summary };
  }
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else console.log(types.map((t) => `IoU metric: ${t}\n${report[t].summary}`).join('\n'));
}

/** Detects on every image of the ground truth (masks as RLE when segm is evaluated) and returns COCO results. */
async function runModel(
  model: string, imagesDir: string, groundTruth: unknown, gtFile: string, masks: boolean, runtime: { dtype: Precision; threads?: number },
): Promise<CocoDetection[]> {
  const data = groundTruth as Partial<CocoDataset>;
  if (!Array.isArray(data?.images)) throw new CocoFormatError(gtFile, 'images', 'is missing or not a list');
  if (!Array.isArray(data.categories)) throw new CocoFormatError(gtFile, 'categories', 'is missing or not a list');
  const categoryIds = categoryIdsByName(data.categories, gtFile);
  const paths = imagePaths(data.images, imagesDir, gtFile);
  const { loadModel } = await import('../index.js');
  const detector = await loadModel(model, runtime);
  const dropped = new Set<string>();
  const results: CocoDetection[] = [];
  try {
    for (let i = 0; i < paths.length; i++) {
      // COCO AP is computed over everything the model keeps (torchvision's 0.05 floor), not the 0.5 default.
      const r = await detector.detect(paths[i], { masks: masks ? 'rle' : 'none', scoreThreshold: 0 }).catch((e: unknown) => {
        // An image that cannot be used stops the evaluation: AP without it would silently differ.
        if (!(e instanceof ResdetError)) throw e;
        throw new CocoFormatError(gtFile, `images[${i}].file_name`, `cannot be evaluated: ${e.message}; no AP computed`);
      });
      results.push(...toCocoResults(r.detections, data.images[i].id, categoryIds, dropped));
    }
  } finally {
    await detector.release();
  }
  if (dropped.size) console.error(`resdet eval: left out detections of classes not among ${gtFile}'s categories: ${[...dropped].join(', ')}`);
  return results;
}

/**
 * `<images>/<file_name>` of every image, checked before the model is loaded: the name must be
 * relative and its real path (links resolved) inside the real `imagesDir`, and the file must
 * exist. All problems are reported together (one line each, naming images[i].file_name), so a
 * hostile or broken annotation file costs one run, not one per image.
 */
function imagePaths(images: unknown[], imagesDir: string, gtFile: string): string[] {
  let root: string;
  try {
    root = realpathSync(imagesDir);
  } catch (e) {
    throw new UsageError(`--images ${imagesDir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : (e as Error).message}`, evalUsage);
  }
  if (!statSync(root).isDirectory()) throw new UsageError(`--images ${imagesDir}: not a folder`, evalUsage);
  const problems: CocoFormatError[] = [];
  const paths = images.map((img, i) => {
    const name = (img as { file_name?: unknown })?.file_name;
    const problem = (message: string) => problems.push(new CocoFormatError(gtFile, `images[${i}].file_name`, message));
    if (typeof name !== 'string' || name === '') return problem('is missing: --model needs it to find the image'), '';
    if (name.includes('\0')) return problem('contains a NUL character; refused'), '';
    if (isAbsolute(name)) return problem(`'${name}' is an absolute path; file names are relative to --images ${imagesDir}; refused`), '';
    let real: string;
    try {
      real = realpathSync(resolve(root, name));
    } catch {
      return problem(`${join(imagesDir, name)} does not exist`), '';
    }
    const rel = relative(root, real);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      return problem(`'${name}' resolves to ${real}, outside --images ${root}; refused`), '';
    }
    return real;
  });
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    for (const p of problems) console.error(`resdet eval: ${p.message}`);
    throw new CocoFormatError(gtFile, 'images', `${problems.length} of ${images.length} images cannot be evaluated (each named above); no AP computed`);
  }
  return paths;
}
