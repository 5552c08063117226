/**
 * Small readers of the dataset formats resdet annotate writes, written from each format's published
 * description, not from our writers, so a round trip through them checks the files against the
 * format rather than against themselves.
 *
 * - Ultralytics YOLO segmentation (docs.ultralytics.com/datasets/segment): data.yaml with `names`
 *   (a list or a map index -> name) and a `train` image list; labels found from each image path by
 *   replacing its last `/images/` with `/labels/` and the extension with `.txt` (Ultralytics'
 *   img2label_paths); a line is `<class> x1 y1 ... xn yn`, class 0-based, coordinates in [0, 1] of
 *   the image's width and height, at least 3 points (CVAT's importer wants an odd count > 5 of fields).
 * - Label Studio tasks with predictions (labelstud.io/guide/predictions, /guide/task_format):
 *   `value` in percent of original_width / original_height; `rectanglelabels` x, y, width, height;
 *   `polygonlabels` points [[x, y], ...]; from_name / to_name naming tags of the labeling config.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The subset of YAML that a data.yaml needs: comments, `key: scalar`, and one level of `names`. */
export function readDataYaml(text: string): { train?: string; val?: string; path?: string; names: Map<number, string> } {
  const top = new Map<string, string>();
  const names = new Map<number, string>();
  let inNames = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (line.trim() === '') continue;
    const indented = /^\s/.test(line);
    if (!indented) {
      const m = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
      if (!m) throw new Error(`data.yaml: cannot read line '${raw}'`);
      inNames = m[1] === 'names' && m[2] === '';
      if (m[1] === 'names' && m[2] !== '') {
        // flow list: names: ['a', 'b']
        const items = m[2].replace(/^\[|\]$/g, '').split(',').map((s) => scalar(s.trim()));
        items.forEach((n, i) => names.set(i, n));
      } else if (!inNames) top.set(m[1], scalar(m[2]));
      continue;
    }
    if (!inNames) throw new Error(`data.yaml: indented line outside names: '${raw}'`);
    const item = /^\s+-\s+(.*)$/.exec(line);
    const entry = /^\s+(\d+):\s+(.*)$/.exec(line);
    if (item) names.set(names.size, scalar(item[1]));
    else if (entry) names.set(Number(entry[1]), scalar(entry[2]));
    else throw new Error(`data.yaml: cannot read names entry '${raw}'`);
  }
  return { train: top.get('train'), val: top.get('val'), path: top.get('path'), names };
}

/** A YAML flow scalar: "double quoted" (JSON escapes), 'single quoted' ('' is '), or plain. */
function scalar(s: string): string {
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  return s;
}

export interface YoloLine {
  classIndex: number;
  /** normalised [x1, y1, x2, y2, ...] */
  points: number[];
}

/** One label file's lines; refuses what the format does not allow. */
export function readYoloLabels(text: string, source: string): YoloLine[] {
  const out: YoloLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7 || fields.length % 2 !== 1) throw new Error(`${source}: a segment line needs a class and >= 3 x y pairs: '${line}'`);
    if (!/^\d+$/.test(fields[0])) throw new Error(`${source}: class '${fields[0]}' is not a 0-based integer`);
    const points = fields.slice(1).map(Number);
    if (!points.every((v) => Number.isFinite(v) && v >= 0 && v <= 1) || fields.slice(1).some((f) => /e/i.test(f))) {
      throw new Error(`${source}: coordinates must be plain decimals in [0, 1]: '${line}'`);
    }
    out.push({ classIndex: Number(fields[0]), points });
  }
  return out;
}

/** Ultralytics' img2label_paths: the last /images/ becomes /labels/, the extension .txt. */
export function labelPathOf(imagePath: string): string {
  const i = imagePath.lastIndexOf('/images/');
  if (i < 0) throw new Error(`${imagePath}: not under an images/ folder`);
  const labels = `${imagePath.slice(0, i)}/labels/${imagePath.slice(i + '/images/'.length)}`;
  const dot = labels.lastIndexOf('.');
  return `${dot > labels.lastIndexOf('/') ? labels.slice(0, dot) : labels}.txt`;
}

/** A YOLO dataset folder read as Ultralytics would: names, and the label lines of every listed image. */
export function readYoloDataset(folder: string): { names: Map<number, string>; images: Array<{ image: string; lines: YoloLine[] }> } {
  const yaml = readDataYaml(readFileSync(join(folder, 'data.yaml'), 'utf8'));
  if (yaml.names.size === 0) throw new Error('data.yaml: no names');
  if (yaml.train === undefined) throw new Error('data.yaml: no train');
  const list = join(folder, yaml.train);
  const images = readFileSync(list, 'utf8').split('\n').filter((l) => l.trim() !== '').map((line) => {
    // Ultralytics: "./x" in a list file is relative to the list's folder
    if (!line.startsWith('./')) throw new Error(`${list}: '${line}' is not a ./ path relative to the list`);
    const image = `${dirname(list)}/${line.slice(2)}`;
    const labelFile = labelPathOf(image);
    return { image, lines: readYoloLabels(readFileSync(labelFile, 'utf8'), labelFile) };
  });
  return { names: yaml.names, images };
}

export interface StudioRegion {
  id: string;
  label: string;
  score: number;
  /** pixels: [x, y, w, h] for a rectangle */
  box?: [number, number, number, number];
  /** pixels: [x1, y1, ...] for a polygon */
  polygon?: number[];
}

type Json = Record<string, unknown>;

function object(v: unknown, where: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: must be an object`);
  return v as Json;
}

function num(o: Json, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}.${key}: must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Label Studio tasks, regions back in pixels; `controls` maps each control tag's name to its type
 * (from the labeling config), which every result's from_name and type must match.
 */
export function readLabelStudioTasks(data: unknown, controls: Map<string, string>): Array<{ image: string; regions: StudioRegion[] }> {
  if (!Array.isArray(data)) throw new Error('tasks: must be a list');
  return data.map((t, i) => {
    const task = object(t, `tasks[${i}]`);
    const image = object(task.data, `tasks[${i}].data`).image;
    if (typeof image !== 'string') throw new Error(`tasks[${i}].data.image: must be a URL string`);
    if (!Array.isArray(task.predictions) || task.predictions.length !== 1) throw new Error(`tasks[${i}].predictions: expected one prediction`);
    const prediction = object(task.predictions[0], `tasks[${i}].predictions[0]`);
    if (typeof prediction.model_version !== 'string') throw new Error(`tasks[${i}]: model_version must be a string`);
    num(prediction, 'score', `tasks[${i}].predictions[0]`);
    if (!Array.isArray(prediction.result)) throw new Error(`tasks[${i}].predictions[0].result: must be a list`);
    const regions = prediction.result.map((r, j): StudioRegion => {
      const where = `tasks[${i}].result[${j}]`;
      const res = object(r, where);
      if (res.to_name !== 'image') throw new Error(`${where}.to_name: must name the Image tag 'image'`);
      if (typeof res.from_name !== 'string' || controls.get(res.from_name) !== res.type) {
        throw new Error(`${where}: from_name ${String(res.from_name)} / type ${String(res.type)} is not a control of the config`);
      }
      const w = num(res, 'original_width', where), h = num(res, 'original_height', where);
      const value = object(res.value, `${where}.value`);
      const labels = value[res.type as string];
      if (!Array.isArray(labels) || labels.length !== 1 || typeof labels[0] !== 'string') throw new Error(`${where}.value.${String(res.type)}: one label expected`);
      const region: StudioRegion = { id: String(res.id), label: labels[0], score: num(res, 'score', where) };
      if (res.type === 'rectanglelabels') {
        const [x, y, bw, bh] = ['x', 'y', 'width', 'height'].map((k) => num(value, k, `${where}.value`));
        region.box = [(x * w) / 100, (y * h) / 100, (bw * w) / 100, (bh * h) / 100];
      } else {
        const points = value.points;
        if (!Array.isArray(points) || points.length < 3) throw new Error(`${where}.value.points: a polygon needs >= 3 points`);
        region.polygon = points.flatMap((p) => {
          if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' && v >= 0 && v <= 100)) {
            throw new Error(`${where}.value.points: each point is [x%, y%] in [0, 100]`);
          }
          return [(p[0] * w) / 100, (p[1] * h) / 100];
        });
      }
      return region;
    });
    return { image, regions };
  });
}

/**
 * The control tags of a labeling config: name -> result type (RectangleLabels -> rectanglelabels),
 * and each control's Label values; every control must point at the Image named 'image'.
 */
export function readLabelStudioConfig(xml: string): { controls: Map<string, string>; labels: Map<string, string[]> } {
  if (!/<Image\s+name="image"\s+value="\$image"/.test(xml)) throw new Error('config: no <Image name="image" value="$image">');
  const controls = new Map<string, string>();
  const labels = new Map<string, string[]>();
  for (const m of xml.matchAll(/<(RectangleLabels|PolygonLabels)\s+name="([^"]+)"\s+toName="([^"]+)"\s*>([\s\S]*?)<\/\1>/g)) {
    if (m[3] !== 'image') throw new Error(`config: ${m[2]} points at ${m[3]}, not image`);
    controls.set(m[2], m[1].toLowerCase());
    const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    labels.set(m[2], [...m[4].matchAll(/<Label\s+value="([^"]*)"\s*\/>/g)].map((l) => unescape(l[1])));
  }
  return { controls, labels };
}
