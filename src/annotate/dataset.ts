/**
 * Writes the dataset of an annotate run into its output folder, from the records alone, so it can
 * be rewritten whole at every checkpoint and at the end (and by `resdet merge`):
 *
 * - `instances.json` (always): COCO instances, see formats/coco.ts;
 * - `failures.json` (always): the images that failed, with their errors;
 * - `yolo/**` (format 'yolo'): see formats/yolo.ts;
 * - `labelstudio.json` and `labelstudio-config.xml` (format 'labelstudio'): see formats/labelstudio.ts.
 *
 * Each file is written atomically (src/cli/files.ts writeFileAtomic): a reader, or a crash, sees the
 * old file or the new one, never half of one. A YOLO label file whose content has not changed is
 * not rewritten, so a checkpoint costs one write per changed image, not one fsync per image so far.
 * Every done image has its label file (empty when nothing was detected) and records only ever
 * grow, so a rewrite leaves no stale label behind. Folders are created as needed; a link or a file
 * where a folder of the dataset belongs is refused, so nothing is written outside the output folder.
 */
import { lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { writeFileAtomic } from '../cli/files.js';
import { OutputError } from '../cli/usage.js';
import { cocoInstances, failuresList } from './formats/coco.js';
import { labelStudioConfig, labelStudioTasks } from './formats/labelstudio.js';
import { yoloFiles, type DatasetFile } from './formats/yolo.js';
import type { Category, ImageRecord, OutputFormat } from './types.js';

export interface DatasetMeta {
  categories: readonly Category[];
  /** the formats asked for; COCO instances.json is written whatever they are */
  formats: readonly OutputFormat[];
  /** COCO segmentations as polygons instead of RLE (--polygons) */
  polygons: boolean;
  /** COCO `info` */
  info?: Record<string, unknown>;
  /** Label Studio's `data.image` of an image (default: its local-files URL) */
  labelStudioImageUrl?: (fileName: string) => string;
  /** Label Studio's predictions' `model_version` (default 'resdet') */
  modelVersion?: string;
  /** Told of what a format cannot hold (e.g. two images sharing a YOLO label file). */
  warn?: (line: string) => void;
}

export interface DatasetSummary {
  /** done images */
  images: number;
  /** annotations of instances.json */
  annotations: number;
  /** failed images */
  failed: number;
  /** the dataset's files, '/'-separated and relative to the output folder, in the order written */
  files: string[];
}

/**
 * Writes every file of the dataset of `records` (one per image) into `out`, which must exist.
 * @throws OutputError when a folder of the dataset is a link or a file, or cannot be created
 */
export async function writeDataset(out: string, records: readonly ImageRecord[], meta: DatasetMeta): Promise<DatasetSummary> {
  const files: DatasetFile[] = [];
  const instances = cocoInstances(records, meta.categories, { polygons: meta.polygons, info: meta.info });
  files.push({ path: 'instances.json', data: JSON.stringify(instances) });
  const failures = failuresList(records);
  files.push({ path: 'failures.json', data: `${JSON.stringify(failures, null, 2)}\n` });
  if (meta.formats.includes('yolo')) {
    for (const f of yoloFiles(records, meta.categories, meta.warn)) files.push({ path: `yolo/${f.path}`, data: f.data });
  }
  if (meta.formats.includes('labelstudio')) {
    const tasks = labelStudioTasks(records, meta.categories, { imageUrl: meta.labelStudioImageUrl, modelVersion: meta.modelVersion });
    files.push({ path: 'labelstudio.json', data: JSON.stringify(tasks) });
    files.push({ path: 'labelstudio-config.xml', data: labelStudioConfig(meta.categories) });
  }
  const folders = new FolderMaker(out);
  let written = 0;
  for (const f of files) {
    folders.make(posix.dirname(f.path));
    const path = join(out, f.path);
    if (f.path.startsWith('yolo/labels/') && unchanged(path, f.data)) continue;
    writeFileAtomic(path, f.data);
    // each write fsyncs: let progress and Ctrl-C handlers run between batches of them
    if (++written % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return { images: instances.images.length, annotations: instances.annotations.length, failed: failures.length, files: files.map((f) => f.path) };
}

/** Whether `path` is a plain file holding exactly `data` already. */
function unchanged(path: string, data: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size !== Buffer.byteLength(data)) return false;
  return readFileSync(path, 'utf8') === data;
}

/** Creates folders under `out` one level at a time, refusing links and files in the way. */
class FolderMaker {
  private readonly made = new Set<string>(['.']);

  constructor(private readonly out: string) {}

  /** Makes `folder` ('/'-separated, relative to out) and its parents. */
  make(folder: string): void {
    if (this.made.has(folder)) return;
    this.make(posix.dirname(folder));
    const path = join(this.out, folder);
    let st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined) {
      try {
        mkdirSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new OutputError(path, `cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
      }
      st = lstatSync(path);
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new OutputError(path, `is ${st.isSymbolicLink() ? 'a link' : 'a file'} where the dataset needs a folder; remove it or pick another --out`);
    }
    this.made.add(folder);
  }
}
