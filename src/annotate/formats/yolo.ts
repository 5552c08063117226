/**
 * The Ultralytics YOLO segmentation layout (docs.ultralytics.com/datasets/segment), as Ultralytics
 * trains from it and CVAT ("Ultralytics YOLO Segmentation 1.0") and X-AnyLabeling import it:
 *
 * - `labels/<name>.txt`, one per annotated image (empty when nothing was detected, which Ultralytics
 *   reads as background): one line per polygon, `<class> x1 y1 x2 y2 ... xn yn`, class 0-based
 *   (category id - 1), coordinates divided by the image's width and height (7 significant digits).
 *   A detection whose mask has several parts gets one line per part, so a trainer sees each part
 *   as an instance; its holes stay inside the part's polygon (see src/annotate/polygons.ts). A
 *   model without masks gives each box as its 4-corner polygon; a detection whose mask came out
 *   empty is left out (as in instances.json with --polygons).
 * - `train.txt`: the images, `./images/<name>`, in id order. Ultralytics resolves `./` against the
 *   list's folder and finds each label by replacing the last `/images/` with `/labels/`; CVAT's
 *   importer does the same under the dataset folder. resdet does not copy images: link the input
 *   folder as `images` (`ln -s <input folder> <out>/yolo/images`) before training or importing.
 * - `data.yaml`: `train: train.txt` and `names` as a map {index: name}. No `path` key: a relative one
 *   is resolved by Ultralytics against its own datasets folder (or the working directory), while
 *   without it the yaml's own folder is the root. No `val` key either: CVAT would import a second
 *   subset of the same images; Ultralytics training needs one, so add your validation list.
 * - `classes.txt`: the names, one per line in class order, as X-AnyLabeling's YOLO import asks for.
 *
 * `<name>` is outputRelativePath(fileName, id) without its extension, so names from list or COCO
 * files that point outside their folder land under `_outside/`. Two images that differ only in
 * their extension (a.png, a.jpg) would share labels/a.txt, and Ultralytics pairs labels by that
 * name: the first by id keeps it, the others are left out of the YOLO files, with a warning.
 */
import { outputRelativePath, withExtension } from '../paths.js';
import type { Category, DoneRecord, ImageRecord } from '../types.js';
import { annotatedObjects, doneRecords } from './coco.js';

/** A file of the dataset: its path relative to the format's folder, and its text. */
export interface DatasetFile {
  path: string;
  data: string;
}

/** The label file of an image, relative to the yolo/ folder. */
export function yoloLabelPath(record: { fileName: string; id: number }): string {
  return `labels/${withExtension(outputRelativePath(record.fileName, record.id), '.txt')}`;
}

/**
 * Every file of the YOLO dataset, deterministic for a set of records in any order: data.yaml,
 * classes.txt, train.txt, then each done image's label file in id order.
 * @param records the run's records (failed ones are not part of the dataset)
 * @param categories the model's categories, ids 1..K (a gap gets the name `class<id>`)
 * @param warn told of each image left out because another one has its label file
 */
export function yoloFiles(records: readonly ImageRecord[], categories: readonly Category[], warn: (line: string) => void = () => {}): DatasetFile[] {
  const names = classNames(categories);
  const owners = new Map<string, string>();
  const done = doneRecords(records).filter((r) => {
    const label = yoloLabelPath(r);
    const owner = owners.get(label);
    if (owner === undefined) {
      owners.set(label, r.fileName);
      return true;
    }
    warn(`yolo: ${r.fileName} left out: its label file ${label} is ${owner}'s (Ultralytics pairs images and labels by name without extension); rename one of them to have both`);
    return false;
  });
  const files: DatasetFile[] = [
    { path: 'data.yaml', data: dataYaml(names) },
    { path: 'classes.txt', data: names.map((n) => `${n.replace(/[\r\n]+/g, ' ')}\n`).join('') },
    { path: 'train.txt', data: done.map((r) => `./images/${outputRelativePath(r.fileName, r.id)}\n`).join('') },
  ];
  for (const r of done) files.push({ path: yoloLabelPath(r), data: labelLines(r, names.length) });
  return files;
}

/** names[i] = the name of category id i + 1. */
function classNames(categories: readonly Category[]): string[] {
  for (const c of categories) {
    if (!Number.isSafeInteger(c.id) || c.id < 1) throw new Error(`internal error: category id ${c.id} (${c.name}) is not an integer >= 1`);
  }
  const byId = new Map(categories.map((c) => [c.id, c.name]));
  const max = categories.reduce((m, c) => Math.max(m, c.id), 0);
  return Array.from({ length: max }, (_, i) => byId.get(i + 1) ?? `class${i + 1}`);
}

function dataYaml(names: string[]): string {
  const lines = [
    '# Ultralytics YOLO segmentation dataset written by resdet annotate.',
    '# Link the annotated images as images/ (ln -s <input folder> images) so that images/<name> and',
    '# labels/<name>.txt pair up; for Ultralytics training add a val: list of validation images.',
    'train: train.txt',
    'names:',
    // a JSON string is a YAML double-quoted scalar
    ...names.map((n, i) => `  ${i}: ${JSON.stringify(n)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** One image's label file: a line per polygon (part), in detection order. */
function labelLines(r: DoneRecord, classCount: number): string {
  let out = '';
  for (const { index } of annotatedObjects(r, true)) {
    const o = r.objects[index];
    const cls = o.categoryId - 1;
    if (!Number.isInteger(cls) || cls < 0 || cls >= classCount) {
      throw new Error(`internal error: ${r.fileName} has category ${o.categoryId}, not among the model's categories`);
    }
    const [x, y, w, h] = o.bbox;
    const parts = o.polygons ?? [[x, y, x + w, y, x + w, y + h, x, y + h]];
    for (const p of parts) {
      let line = String(cls);
      for (let i = 0; i < p.length; i += 2) line += ` ${normalised(p[i], r.width)} ${normalised(p[i + 1], r.height)}`;
      out += `${line}\n`;
    }
  }
  return out;
}

/** v / size in [0, 1], 7 significant digits, never in exponent notation. */
function normalised(v: number, size: number): string {
  const f = Math.min(1, Math.max(0, v / size));
  const s = String(Number(f.toPrecision(7)));
  return s.includes('e') ? f.toFixed(12) : s;
}
