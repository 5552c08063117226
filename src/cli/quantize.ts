/** `resdet quantize <package> --dtype fp16|int8 [--calibration <images>...] --out <package>` */
import { parseArgs } from 'node:util';
import { type CalibrationMethod, quantizePackage } from '../quantize/index.js';
import { numberOption, UsageError } from './usage.js';

export const quantizeUsage = `resdet quantize <package> --dtype fp16|int8 --out <package> [options]

Writes a copy of a model package with a lower-precision variant of its networks added
(loadModel(dir, { dtype }), resdet detect/eval --dtype); its fp32 files and other variants
are kept, so a package written before variants existed loads as before.
  --dtype fp16          weights stored as float16 (half the size), computed in float32 on the CPU
  --dtype int8          QDQ int8: weights symmetric per output channel, activations uint8 with
                        ranges calibrated on --calibration (about a quarter of the size)
  --calibration <p>...  int8: images or folders of images to calibrate on (repeatable)
  --method <m>          int8: percentile (default), minmax or entropy
  --percentile <p>      int8, percentile: the upper percentile of each activation kept (default 99.99)
  --keep-float <w>      int8: leave the layer whose weight is <w> (a state-dict key) in float
                        (repeatable)
  --threads <n>         threads for the calibration runs
  --out <dir>           package to write (atomically)
  --force               replace an existing --out`;

export async function quantizeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dtype: { type: 'string' },
      out: { type: 'string', short: 'o' },
      calibration: { type: 'string', multiple: true },
      method: { type: 'string', default: 'percentile' },
      percentile: { type: 'string' },
      'keep-float': { type: 'string', multiple: true },
      threads: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new UsageError('quantize takes one model package folder', quantizeUsage);
  if (values.dtype !== 'fp16' && values.dtype !== 'int8') throw new UsageError(`--dtype must be fp16 or int8, got '${values.dtype ?? ''}'`, quantizeUsage);
  if (!values.out) throw new UsageError('quantize needs --out <dir>', quantizeUsage);
  if (!['percentile', 'minmax', 'entropy'].includes(values.method!)) throw new UsageError(`--method must be percentile, minmax or entropy, got '${values.method}'`, quantizeUsage);
  if (values.dtype === 'int8' && !values.calibration?.length) throw new UsageError('--dtype int8 needs --calibration <images or folders>', quantizeUsage);
  const percentile = numberOption('percentile', values.percentile, 50, 100, quantizeUsage);
  const threads = numberOption('threads', values.threads, 1, 1024, quantizeUsage, true);
  const started = performance.now();
  const summary = await quantizePackage(positionals[0], {
    dtype: values.dtype, out: values.out, calibration: values.calibration, method: values.method as CalibrationMethod, percentile,
    keepFloat: values['keep-float'], overwrite: values.force, threads,
  });
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  let fp32 = 0;
  let variant = 0;
  for (const b of Object.values(summary.bytes)) { fp32 += b.fp32; variant += b.variant; }
  const parts = Object.entries(summary.bytes).map(([role, b]) => `${role} ${mb(b.variant)}`).join(', ');
  console.log(`${summary.out}: ${summary.dtype} variant ${mb(variant)} (${(variant / fp32).toFixed(2)} of fp32's ${mb(fp32)}; ${parts}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(Object.entries(summary.notes).map(([k, v]) => `  ${k}: ${v}`).join('\n'));
}
