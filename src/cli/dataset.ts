/** `resdet dataset --out <dir> --train N --val M --seed S --size WxH [--classes a,b] [--backgrounds a,b] [--force]` */
import { parseArgs } from 'node:util';
import { ALL_SHAPE_CLASSES, BACKGROUND_KINDS, type BackgroundKind, DEFAULT_BACKGROUNDS, type ShapeClass, generateDataset } from '../dataset/index.js';
import { UsageError } from './usage.js';

export const datasetUsage = `resdet dataset --out <dir> [options]

Writes the shapes dataset (circle, rectangle, triangle, star, ring, cross; visible-part masks)
as PNGs and COCO instances JSON: <dir>/{train,val}/*.png, <dir>/annotations/instances_{train,val}.json.
  --out <dir>     output folder
  --train <n>     training images (default 1000)
  --val <n>       validation images (default 100)
  --seed <s>      integer seed in [0, 2^32) (default 0); same seed, same bytes
  --size <WxH>    image size (default 256x256)
  --classes <a,b> the classes drawn, labels 1..n in this order (default the six above);
                  known: ${ALL_SHAPE_CLASSES.join(', ')}
                  e.g. --classes hexagon,heart,arrow,crescent for a second task
  --backgrounds <a,b>  background kinds, one picked per image (default ${DEFAULT_BACKGROUNDS.join(',')});
                  known: ${BACKGROUND_KINDS.join(', ')}
  --force         replace existing annotation files`;

function integer(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a non-negative integer, got '${text}'`, datasetUsage);
  return Number(text);
}

/** A comma-separated list; the names are checked by checkDatasetOptions. */
function names(text: string): string[] {
  return text.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
}

export async function datasetCommand(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', short: 'o' },
        train: { type: 'string' },
        val: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        classes: { type: 'string' },
        backgrounds: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message, datasetUsage);
  }
  const v = parsed.values;
  if (!v.out) throw new UsageError('dataset needs --out <dir>', datasetUsage);
  const size = /^(\d+)x(\d+)$/.exec(v.size ?? '256x256');
  if (!size) throw new UsageError(`--size must be WxH, e.g. 256x256, got '${v.size}'`, datasetUsage);
  const t0 = performance.now();
  const summaries = await generateDataset({
    out: v.out,
    train: integer('train', v.train, 1000),
    val: integer('val', v.val, 100),
    seed: integer('seed', v.seed, 0),
    width: Number(size[1]),
    height: Number(size[2]),
    force: v.force,
    scene: {
      ...(v.classes !== undefined ? { classes: names(v.classes) as ShapeClass[] } : {}),
      ...(v.backgrounds !== undefined ? { backgrounds: names(v.backgrounds) as BackgroundKind[] } : {}),
    },
  });
  for (const s of summaries) {
    const classes = Object.entries(s.perClass).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`${s.split}: ${s.images} images, ${s.annotations} objects (${classes}) -> ${s.file}`);
  }
  console.log(`in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
