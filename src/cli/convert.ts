/** `resdet convert <checkpoint|url> --out <dir> [--classes F] [--arch A] [--eps E] [--resize-rule R] [--force]` */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ResizeScaleRule } from '../config.js';
import { convertCheckpoint } from '../convert/index.js';
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
  --force            replace an existing package`;

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
  // Written to the package only when given: resolveConfig's default is 0.14's rule.
  const config = resizeRule ? { transform: { resizeScaleRule: resizeRule as ResizeScaleRule } } : undefined;
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
  const s = await convertCheckpoint(checkpoint, { out: values.out, classes: values.classes, arch: values.arch, eps, force: values.force, config, ...source, ...(maxMemory ? { maxMaterializedBytes: Math.round(maxMemory * 2 ** 20) } : {}) });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const files = s.files.map((f) => `${f.path} ${mb(f.bytes)}`).join(', ');
  console.log(`${s.family}: ${s.architecture}; ${(s.parameters / 1e6).toFixed(1)}M parameters; ${s.manifest.classes.length} classes; eps ${s.eps} (${s.epsReason}) -> ${values.out} (${files}) in ${seconds} s`);
}
