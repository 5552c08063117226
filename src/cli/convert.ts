/**
 * `resdet convert <checkpoint|url> --out <dir> [--classes F] [--arch A] [--eps E] [--resize-rule R]
 * [--backbone-onnx F [--levels L]] [--preset B] [--anchor-sizes S] [--aspect-ratios R] [--force]`
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type DetectorConfigOverrides, type ResizeScaleRule } from '../config.js';
import { convertCheckpoint, parseLevels, presets } from '../convert/index.js';
import { downloadCheckpoint } from '../download/checkpoint.js';
import { progressReporter } from '../download/progressBar.js';
import { ModelPackageError } from '../modelPackage/index.js';
import { isModelUrl } from '../modelPackage/remote.js';
import { UsageError } from './usage.js';

const RESIZE_RULES: readonly ResizeScaleRule[] = ['torchvision-0.14', 'float64'];

export const convertUsage = `resdet convert <checkpoint.pth|.safetensors|url> --out <dir> [options]

Converts a torchvision Faster R-CNN / Mask R-CNN checkpoint into a resdet model package.
An http(s) URL is downloaded first into the cache ($RESDET_CACHE, else ~/.cache/resdet or
the platform's cache folder), resuming an interrupted download; torchvision's file names
(..._coco-bf2d0c1e.pth) carry the start of their sha256, which is checked as torch.hub does.
  --out <dir>        package folder to write (written atomically)
  --classes <file>   class names: one per line, or a JSON array / {id: name}
                     (default: COCO's 91 for 91-class checkpoints)
  --arch <name>      expected backbone, e.g. resnet50; the weights decide, this only checks
  --eps <e>          FrozenBatchNorm eps (default from the content: 0 for torchvision's COCO_V1 files,
                     known by sha256 or name; BatchNorm2d bodies use 1e-5; else 1e-5)
  --max-memory <MiB> memory the reader may use beyond the file's own tensor bytes (expanded
                     views, conversions), for a trusted file (default max(256, 4 x file size))
  --resize-rule <r>  how the resize scale is computed: torchvision-0.14 (default: in float32,
                     427x640 -> 799x1199, as the reference) or float64 (newer torchvision's,
                     427x640 -> 800x1199); stored as config.transform.resizeScaleRule
  --backbone-onnx <file>  the backbone as your own ONNX model (e.g. torch.onnx.export of
                     model.backbone) instead of the ResNet-FPN built from the checkpoint; its
                     outputs are the pyramid levels, named '0', '1', ..., 'pool' (or 'feat0', ...),
                     their strides and channels probed by running it once
  --levels <list>    with --backbone-onnx: one level per output, in order, as name[:stride[:channels]]
                     (e.g. 0,1,pool or 0:32:256,1:32:256,pool:64:256; strides/channels are checked)
  --preset <builder> the torchvision builder the checkpoint comes from, for the anchors, image sizes
                     and RPN/RoI numbers it sets: ${Object.keys(presets).join(', ')}
  --anchor-sizes <s> anchor sizes per level: one per level (32,64,128,256,512) or a JSON list of
                     lists ([[32,64],[64,128]]); anchors per location = sizes x aspect ratios
  --aspect-ratios <r> anchor aspect ratios (h/w) of every level, e.g. 0.5,1,2
  --force            replace an existing package`;

/** '0.5,1,2' -> [0.5, 1, 2]: positive finite numbers. */
function parseNumbers(option: string, text: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !(Number.isFinite(v) && v > 0))) throw new UsageError(`${option} must be positive numbers separated by commas, got '${text}'`, convertUsage);
  return values;
}

/** '32,64,128' (one size per level) or a JSON list of per-level lists '[[32,64],[64,128]]'. */
function parseAnchorSizes(text: string): number[][] {
  if (!text.trim().startsWith('[')) return parseNumbers('--anchor-sizes', text).map((s) => [s]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--anchor-sizes is neither numbers separated by commas nor a JSON list of lists: '${text}'`, convertUsage);
  }
  const ok = Array.isArray(value) && value.length > 0 && value.every((l) => Array.isArray(l) && l.length > 0 && l.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0));
  if (!ok) throw new UsageError(`--anchor-sizes as JSON must be a list of non-empty lists of positive numbers (one list per level), got '${text}'`, convertUsage);
  return value as number[][];
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      classes: { type: 'string' },
      arch: { type: 'string' },
      eps: { type: 'string' },
      force: { type: 'boolean', default: false },
      'max-memory': { type: 'string' },
      'resize-rule': { type: 'string' },
      'backbone-onnx': { type: 'string' },
      levels: { type: 'string' },
      preset: { type: 'string' },
      'anchor-sizes': { type: 'string' },
      'aspect-ratios': { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('convert takes one checkpoint file or URL', convertUsage);
  if (!values.out) throw new UsageError('convert needs --out <dir>', convertUsage);
  const eps = values.eps === undefined ? undefined : Number(values.eps);
  if (eps !== undefined && !(eps >= 0)) throw new UsageError(`--eps must be a number >= 0, got '${values.eps}'`, convertUsage);
  const maxMemory = values['max-memory'] === undefined ? undefined : Number(values['max-memory']);
  if (maxMemory !== undefined && !(maxMemory > 0 && maxMemory <= 2 ** 40)) throw new UsageError(`--max-memory must be a number of MiB > 0, got '${values['max-memory']}'`, convertUsage);
  const resizeRule = values['resize-rule'];
  if (resizeRule !== undefined && !(RESIZE_RULES as readonly string[]).includes(resizeRule)) {
    throw new UsageError(`--resize-rule must be ${RESIZE_RULES.join(' or ')}, got '${resizeRule}'`, convertUsage);
  }
  if (values.levels !== undefined && values['backbone-onnx'] === undefined) throw new UsageError('--levels declares the outputs of --backbone-onnx: give both', convertUsage);
  // Written to the package only when given: resolveConfig's default is 0.14's rule.
  const config: DetectorConfigOverrides = {};
  if (resizeRule) config.transform = { resizeScaleRule: resizeRule as ResizeScaleRule };
  const anchorSizes = values['anchor-sizes'] === undefined ? undefined : parseAnchorSizes(values['anchor-sizes']);
  const aspectRatios = values['aspect-ratios'] === undefined ? undefined : parseNumbers('--aspect-ratios', values['aspect-ratios']);
  if (anchorSizes || aspectRatios) config.rpn = { ...(anchorSizes ? { anchorSizes } : {}), ...(aspectRatios ? { aspectRatios } : {}) };
  const levels = values.levels === undefined ? undefined : parseLevels(values.levels, values['backbone-onnx']!);
  let checkpoint = positionals[0];
  let source: { sourceName?: string; sourceUrl?: string } = {};
  if (isModelUrl(checkpoint)) {
    let url: URL;
    try {
      url = new URL(checkpoint);
    } catch {
      throw new UsageError(`'${checkpoint}' is not a valid URL`, convertUsage);
    }
    // Before a download that may be large: the writer would refuse the folder only at the end.
    if (existsSync(values.out) && !values.force) throw new ModelPackageError(resolve(values.out), 'already exists (pass --force to replace it)');
    const download = await downloadCheckpoint(url, { onProgress: progressReporter(process.stderr) });
    // The URL's file name, not the cache path, decides the eps default (torchvision's COCO names).
    source = { sourceName: download.name, sourceUrl: url.href };
    checkpoint = download.path;
  }
  const t0 = performance.now();
  const s = await convertCheckpoint(checkpoint, {
    out: values.out, classes: values.classes, arch: values.arch, eps, force: values.force, config: Object.keys(config).length > 0 ? config : undefined,
    preset: values.preset, backboneOnnx: values['backbone-onnx'], levels, ...source,
    ...(maxMemory ? { maxMaterializedBytes: Math.round(maxMemory * 2 ** 20) } : {}),
  });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const files = s.files.map((f) => `${f.path} ${mb(f.bytes)}`).join(', ');
  const folded = s.eps === undefined ? '' : `; eps ${s.eps} (${s.epsReason})`;
  console.log(`${s.family}: ${s.architecture}; ${(s.parameters / 1e6).toFixed(1)}M parameters; ${s.manifest.classes.length} classes${folded} -> ${values.out} (${files}) in ${seconds} s`);
}
