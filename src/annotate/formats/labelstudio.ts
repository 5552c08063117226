/**
 * Label Studio's task import with pre-annotations (labelstud.io/guide/predictions): a JSON list of
 * tasks `{ data: { image }, predictions: [{ model_version, score, result }] }`, and the labeling
 * config the results are written against (labelstudio-config.xml: an Image named `image`, a
 * RectangleLabels named `box` and a PolygonLabels named `polygon`, one Label per category).
 *
 * Each result carries `from_name`, `to_name`, `type`, `original_width`, `original_height`,
 * `image_rotation` 0, the detection's `score` and its geometry in percent of the image's size:
 * - a detection with a mask: one `polygonlabels` result per polygon part (`points` [[x%, y%], ...],
 *   holes bridged into the part as in instances.json); a mask that came out empty is left out;
 * - a model without masks: one `rectanglelabels` result (`x`, `y`, `width`, `height`, `rotation` 0).
 * Result ids are `<detection index>` for a box and `<detection index>.<part>` for a polygon part.
 * The prediction's `score` is the mean of its detections' scores (0 when there are none); an
 * image with no detections still gets a task with an empty prediction, so it is reviewed too.
 *
 * `data.image` is Label Studio's local-files URL by default, `/data/local-files/?d=<fileName>`
 * (each '/'-separated part percent-encoded): start Label Studio with
 * LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT set to the
 * folder the images were found in (add it as a Local Files storage), or pass your own `imageUrl`
 * (e.g. to images served over http or in cloud storage).
 */
import type { Category, DoneRecord, ImageRecord } from '../types.js';
import { annotatedObjects, doneRecords } from './coco.js';

interface ResultBase {
  id: string;
  from_name: 'box' | 'polygon';
  to_name: 'image';
  original_width: number;
  original_height: number;
  image_rotation: 0;
  score: number;
}

export interface LabelStudioRectangle extends ResultBase {
  type: 'rectanglelabels';
  /** percent of the image's width / height */
  value: { x: number; y: number; width: number; height: number; rotation: 0; rectanglelabels: [string] };
}

export interface LabelStudioPolygon extends ResultBase {
  type: 'polygonlabels';
  /** points [[x%, y%], ...] */
  value: { points: Array<[number, number]>; closed: true; polygonlabels: [string] };
}

export type LabelStudioResult = LabelStudioRectangle | LabelStudioPolygon;

export interface LabelStudioTask {
  data: { image: string };
  predictions: Array<{ model_version: string; score: number; result: LabelStudioResult[] }>;
}

export interface LabelStudioOptions {
  /** `data.image` of an image, from its file name (default {@link localFilesUrl}) */
  imageUrl?: (fileName: string) => string;
  /** the predictions' model_version (default 'resdet') */
  modelVersion?: string;
}

/** Label Studio's local-files URL of `fileName` (relative to LOCAL_FILES_DOCUMENT_ROOT). */
export function localFilesUrl(fileName: string): string {
  return `/data/local-files/?d=${fileName.replace(/\\/g, '/').split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * The tasks of the done records, in id order (failed images are not tasks).
 * @param categories the model's categories: a result's label is its category's name
 */
export function labelStudioTasks(
  records: readonly ImageRecord[], categories: readonly Category[], options: LabelStudioOptions = {},
): LabelStudioTask[] {
  const names = new Map(categories.map((c) => [c.id, c.name]));
  const imageUrl = options.imageUrl ?? localFilesUrl;
  const modelVersion = options.modelVersion ?? 'resdet';
  return doneRecords(records).map((r) => {
    const result = taskResults(r, names);
    const score = r.objects.length === 0 ? 0 : r.objects.reduce((s, o) => s + o.score, 0) / r.objects.length;
    return { data: { image: imageUrl(r.fileName) }, predictions: [{ model_version: modelVersion, score, result }] };
  });
}

function taskResults(r: DoneRecord, names: Map<number, string>): LabelStudioResult[] {
  const result: LabelStudioResult[] = [];
  const base = (id: string, from: 'box' | 'polygon', score: number) => ({
    id, from_name: from, to_name: 'image' as const, original_width: r.width, original_height: r.height, image_rotation: 0 as const, score,
  });
  const px = (v: number) => (100 * v) / r.width, py = (v: number) => (100 * v) / r.height;
  for (const { index } of annotatedObjects(r, true)) {
    const o = r.objects[index];
    const label = names.get(o.categoryId);
    if (label === undefined) throw new Error(`internal error: ${r.fileName} has category ${o.categoryId}, not among the model's categories`);
    if (o.polygons === undefined) {
      const [x, y, w, h] = o.bbox;
      result.push({
        ...base(String(index), 'box', o.score),
        type: 'rectanglelabels',
        value: { x: px(x), y: py(y), width: px(w), height: py(h), rotation: 0, rectanglelabels: [label] },
      });
      continue;
    }
    o.polygons.forEach((p, part) => {
      const points: Array<[number, number]> = [];
      for (let i = 0; i < p.length; i += 2) points.push([px(p[i]), py(p[i + 1])]);
      result.push({ ...base(`${index}.${part}`, 'polygon', o.score), type: 'polygonlabels', value: { points, closed: true, polygonlabels: [label] } });
    });
  }
  return result;
}

/** The labeling config the tasks' results name (from_name box / polygon, to_name image). */
export function labelStudioConfig(categories: readonly Category[]): string {
  // a name listed twice (torchvision's COCO labels repeat 'N/A') is one Label
  const names = [...new Set([...categories].sort((a, b) => a.id - b.id).map((c) => c.name))];
  const labels = names.map((n) => `    <Label value="${xmlAttribute(n)}"/>`);
  return [
    '<View>',
    '  <Image name="image" value="$image" zoom="true"/>',
    '  <RectangleLabels name="box" toName="image">',
    ...labels,
    '  </RectangleLabels>',
    '  <PolygonLabels name="polygon" toName="image">',
    ...labels,
    '  </PolygonLabels>',
    '</View>',
    '',
  ].join('\n');
}

function xmlAttribute(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
