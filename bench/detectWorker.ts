/**
 * One side of `npm run bench`, in its own process so that its peak RSS is its own:
 *   ours  <package> <image> <threads> <repeats> [dtype]  resdet's detect, per-stage medians
 *   whole <model.onnx> <image> <threads> <repeats> torchvision exported whole, one session.run
 * Prints one JSON line.
 */
import * as ort from 'onnxruntime-node';
import { decodeImage, toRgbImage } from '../src/image/index.js';
import { loadModel, type StageTimings } from '../src/index.js';
import type { Precision } from '../src/modelPackage/index.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * torchvision's own output: every detection above its box_score_thresh (0.05, applied inside the
 * model), so the mask head runs on as many boxes as the whole-graph export's (detect's default
 * 0.5 would run it on fewer and flatter the comparison).
 */
const asTorchvision = { masks: 'binary', scoreThreshold: 0.05 } as const;

async function ours(pkg: string, image: string, threads: number, repeats: number, dtype?: Precision): Promise<object> {
  const model = await loadModel(pkg, { threads, ...(dtype ? { dtype } : {}) });
  await model.detect(image, asTorchvision); // warm-up
  const runs: StageTimings[] = [];
  let detections = 0;
  for (let i = 0; i < repeats; i++) {
    const r = await model.detect(image, asTorchvision);
    runs.push(r.timings);
    detections = r.detections.length;
  }
  const stages = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((t) => t[k as keyof StageTimings]))]));
  const outside = median(runs.map((t) => (t.total - t.onnxRuntime) / t.total));
  await model.release();
  return { stages, outsideOnnxFraction: outside, detections, totals: runs.map((t) => t.total) };
}

async function whole(onnxPath: string, image: string, threads: number, repeats: number): Promise<object> {
  const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const rgb = toRgbImage(await decodeImage(image));
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', rgb.data, [3, rgb.height, rgb.width]) };
  await session.run(feeds); // warm-up
  const times: number[] = [];
  let detections = 0;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const out = await session.run(feeds);
    times.push(performance.now() - t0);
    detections = out[session.outputNames[0]].dims[0];
  }
  await session.release();
  return { medianMs: median(times), detections, totals: times };
}

const [mode, path, image, threads, repeats, dtype] = process.argv.slice(2);
const result = mode === 'ours'
  ? await ours(path, image, Number(threads), Number(repeats), dtype as Precision | undefined)
  : await whole(path, image, Number(threads), Number(repeats));
console.log(JSON.stringify({ ...result, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
