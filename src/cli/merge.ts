/** `resdet merge <shard-out>... --out <dir> [--format coco|yolo|labelstudio]... [--polygons] [--partial]` */
import { parseArgs } from 'node:util';
import { mergeShards } from '../annotate/merge.js';
import type { OutputFormat } from '../annotate/types.js';
import { UsageError } from './usage.js';

const FORMATS: readonly OutputFormat[] = ['coco', 'yolo', 'labelstudio'];

export const mergeUsage = `resdet merge <shard-out>... --out <dir> [--format coco|yolo|labelstudio]... [--polygons] [--partial]

Joins the output folders of resdet annotate --shard K/N runs into one dataset in --out, with the
ids the shards share: instances.json, failures.json, the formats asked for, and annotate.journal
(as an unsharded run's, so the merged folder can be merged again or resumed by resdet annotate).
The shard folders are only read. Refused: shards of another model, options or input list,
records that conflict, and, without --partial, missing or unfinished shards.
  --out <dir>          folder to write the merged dataset to (not one of the shard folders)
  --format <f>         also write yolo/ or labelstudio.json (repeatable; instances.json always)
  --polygons           COCO segmentation as polygons instead of RLE
  --partial            merge even when shards are missing or unfinished (listed as a warning)
Failed images are listed in --out/failures.json; merging them is not an error.`;

export async function mergeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      format: { type: 'string', multiple: true, default: [] },
      polygons: { type: 'boolean', default: false },
      partial: { type: 'boolean', default: false },
    },
  });
  if (positionals.length === 0) throw new UsageError('no shard folders given', mergeUsage);
  if (!values.out) throw new UsageError('--out <dir> is required (the folder to write the merged dataset to)', mergeUsage);
  const formats = values.format.flatMap((f) => f.split(',')).map((f) => f.trim().toLowerCase());
  const unknown = formats.find((f) => !(FORMATS as readonly string[]).includes(f));
  if (unknown !== undefined) throw new UsageError(`--format '${unknown}' is not one of ${FORMATS.join(', ')}`, mergeUsage);
  const summary = await mergeShards(positionals, {
    out: values.out, formats: formats as OutputFormat[], polygons: values.polygons, partial: values.partial,
    warn: (m) => console.warn(`resdet merge: warning: ${m}`),
  });
  const failed = summary.failed > 0 ? `, ${summary.failed} failed (listed in failures.json)` : '';
  const missing = summary.missingImages > 0 ? `, ${summary.missingImages} not done` : '';
  console.log(`merged ${summary.folders} shard folder(s): ${summary.images} images, ${summary.annotations} annotations${failed}${missing} -> ${values.out}`);
}
