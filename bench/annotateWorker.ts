/**
 * One side of `npm run bench:annotate`, in its own process:
 *   loop     <images> <out> <previews 0|1> <threads> [K/N]  a plain loop of detect() calls writing the
 *            same files; with K/N only every N-th image from the K-th (0-based), for N loops side by side
 *   annotate <images> <out> <previews 0|1> [threads]  resdet annotate's pipeline (src/annotate/run.ts),
 *            with the CLI's default jobs and threads unless threads is given
 * Prints one JSON line: images, seconds, imagesPerSecond, detections.
 */
import { readdirSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeDataset } from '../src/annotate/dataset.js';
import { annotate } from '../src/annotate/run.js';
import type { ImageRecord } from '../src/annotate/types.js';
import { toObjects } from '../src/annotate/objects.js';
import { defaultJobs, jobThreads } from '../src/cli/annotate.js';
import { writeFileAtomic } from '../src/cli/files.js';
import { decodeImage } from '../src/image/decode.js';
import { encodePng } from '../src/image/encode.js';
import { loadModel } from '../src/index.js';
import { drawPreview } from '../src/preview/index.js';

const [mode, images, out, previewsArg, threadsArg, partArg] = process.argv.slice(2);
const previews = previewsArg === '1';
// annotate runs as the CLI does by default (defaultJobs jobs of jobThreads threads each); the
// loop with the threads it is given (bench/annotate.ts picks its faster setting).
const jobs = mode === 'annotate' ? defaultJobs('cpu') : 1;
const threads = threadsArg ? Number(threadsArg) : jobThreads(jobs, 1);
const detector = await loadModel('shapes', { threads });
const categories = detector.classes.slice(1).map((name, i) => ({ id: i + 1, name, supercategory: 'object' }));
const [part, parts] = partArg ? partArg.split('/').map(Number) : [0, 1];
const files = readdirSync(images).filter((f) => f.endsWith('.png')).sort().filter((_, i) => i % parts === part);
// One warm-up image outside the timing, for both sides.
await detector.detect(join(images, files[0]));
const t0 = performance.now();
let detections = 0;
if (mode === 'loop') {
  const records: ImageRecord[] = [];
  mkdirSync(join(out, 'previews'), { recursive: true });
  for (const [i, f] of files.entries()) {
    // Decoded once, for the networks and the preview alike (what a careful plain loop does).
    const image = await decodeImage(join(images, f));
    const r = await detector.detect({ data: image.rgb, width: image.width, height: image.height, channels: 3 }, { masks: 'binary' });
    const objects = toObjects(r.detections, r.width, r.height, false, 1, 0);
    records.push({ kind: 'done', index: i, id: i + 1, fileName: f, bytes: 0, width: r.width, height: r.height, objects });
    detections += objects.length;
    if (previews) {
      await drawPreview(image.rgb, image.width, image.height, r.detections);
      writeFileAtomic(join(out, 'previews', f), await encodePng(image.rgb, image.width, image.height));
    }
  }
  await writeDataset(out, records, { categories, formats: [], polygons: false });
} else {
  const summary = await annotate({
    inputs: [images], out, detector, modelName: 'shapes', scoreThreshold: 0.5, maskThreshold: 0.5, minArea: 0,
    polygons: false, tolerance: 1, formats: [], previews, restart: true, log: () => {}, progressStream: { write: () => true },
    jobs, replicaModel: { model: 'shapes', provider: 'cpu', threads },
  });
  detections = summary.detections;
}
const seconds = (performance.now() - t0) / 1000;
await detector.release();
console.log(JSON.stringify({ mode, images: files.length, seconds, imagesPerSecond: files.length / seconds, detections }));
