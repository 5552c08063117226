/**
 * `npm run bench:gpu`: the detector on 'cpu' and on 'webgpu' side by side, per stage, and the bytes
 * that cross from the GPU to the CPU per image (what `session.run` hands back as CPU tensors) next
 * to the size of the feature pyramid: the GPU-resident path's goal is under 5% of the pyramid.
 *
 * Models: the bundled shapes model on samples/shapes-1.png, then a ResNet-50-FPN Mask R-CNN at its
 * real size (480x640 image, 800x1066 input): by default `npm run bench`'s seeded model, built once
 * and cached under .cache/precision/r50 (bench/r50Package.ts; needs python3-torchvision the first
 * time), or a package folder and image given as arguments (`node dist/bench/gpu.js <package> <image>`).
 * RESDET_BENCH_R50=0 skips the second model, RESDET_BENCH_SHAPES=0 the first.
 * On a machine without a GPU the webgpu provider runs on SwiftShader (VK_ICD_FILENAMES, set here
 * when chromium's ICD is installed): its times prove nothing about GPU speed, only the bytes count.
 * Environment: RESDET_BENCH_SWIFTSHADER=0 (a real GPU), RESDET_BENCH_THREADS (2), RESDET_BENCH_REPEATS (2; the first webgpu run, which
 * compiles shaders, is not counted), RESDET_BENCH_R50_REPEATS (1: on SwiftShader one R50 image takes minutes),
 * RESDET_BENCH_R50_NMS_GPU=1 (also the R50 with `nms: 'gpu'`; the shapes model always shows it),
 * RESDET_BENCH_WARMUP=0 (skip the uncounted first run: halves a SwiftShader R50 run).
 */
import * as ortNode from 'onnxruntime-node';
import { join } from 'node:path';
import { createDetector } from '../src/detector/index.js';
import { decodeImage } from '../src/image/decode.js';
import { bundledModelsDir, type DetectionResult, readModelPackage } from '../src/index.js';
import type { InferenceSession, OrtModule, Tensor } from '../src/runtime/index.js';
import { repoRoot } from '../test/helpers/reference.js';
import { useSwiftShader } from '../test/helpers/webgpu.js';
import { r50Package } from './r50Package.js';

const threads = Number(process.env.RESDET_BENCH_THREADS ?? 2);
const shapesRepeats = Number(process.env.RESDET_BENCH_REPEATS ?? 2);
const r50Repeats = Number(process.env.RESDET_BENCH_R50_REPEATS ?? 1);
/** RESDET_BENCH_WARMUP=0: no uncounted first run (times then include shader compilation; bytes are the same). */
const warmUp = process.env.RESDET_BENCH_WARMUP !== '0';
const STAGES = ['backbone', 'rpn', 'roiHeads', 'masks', 'postprocess', 'total', 'onnxRuntime'] as const;

/** Bytes per image: what came back to the CPU, and the pyramid's size. */
interface Traffic { readBack: number; pyramid: number }

const bytesOf = (t: Tensor) => t.dims.reduce((a, b) => a * b, 1) * (t.type === 'int64' ? 8 : t.type === 'float32' || t.type === 'int32' ? 4 : 1);

/** onnxruntime-node with sessions that count the bytes of every CPU output and of the backbone's outputs. */
function countingOrt(traffic: Traffic): OrtModule {
  const create = async (bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> => {
    const session = await ortNode.InferenceSession.create(bytes, options) as unknown as InferenceSession;
    const isBackbone = session.inputNames.length === 1 && session.outputNames.length > 2;
    const run = session.run.bind(session);
    return Object.assign(Object.create(session) as InferenceSession, {
      run: async (feeds: InferenceSession.FeedsType) => {
        const out = await run(feeds);
        for (const t of Object.values(out)) {
          if (t.location === 'cpu' || t.location === 'cpu-pinned') traffic.readBack += bytesOf(t);
          if (isBackbone) traffic.pyramid += bytesOf(t);
        }
        return out;
      },
      release: () => session.release(),
    });
  };
  return { InferenceSession: { create }, Tensor: ortNode.Tensor as unknown as OrtModule['Tensor'] };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(dir: string, image: string, provider: 'cpu' | 'webgpu', repeats: number, nms: 'cpu' | 'gpu' = 'cpu'): Promise<{ timings: Record<string, number>; traffic: Traffic; result: DetectionResult }> {
  const pkg = readModelPackage(dir);
  const traffic: Traffic = { readBack: 0, pyramid: 0 };
  const detector = await createDetector(countingOrt(traffic), pkg.manifest, pkg.files, decodeImage, { provider, threads, nms });
  try {
    if (warmUp) await detector.detect(image, { scoreThreshold: 0 }); // warm-up (shader compilation on webgpu)
    const runs: DetectionResult[] = [];
    traffic.readBack = traffic.pyramid = 0;
    for (let i = 0; i < repeats; i++) runs.push(await detector.detect(image, { scoreThreshold: 0 }));
    const timings = Object.fromEntries(STAGES.map((s) => [s, median(runs.map((r) => r.timings[s]))]));
    return { timings, traffic: { readBack: traffic.readBack / repeats, pyramid: traffic.pyramid / repeats }, result: runs[0] };
  } finally {
    await detector.release();
  }
}

async function bench(name: string, dir: string, image: string, repeats: number, withGpuNms: boolean): Promise<void> {
  const cpu = await measure(dir, image, 'cpu', repeats);
  const gpu = await measure(dir, image, 'webgpu', repeats);
  const gpuNms = withGpuNms ? await measure(dir, image, 'webgpu', repeats, 'gpu') : undefined;
  console.log(`\n${name} (${image.split('/').pop()}, ${cpu.result.detections.length} detections; medians of ${repeats}, ms)`);
  console.log(`${'stage'.padEnd(12)}${pad('cpu', 10)}${pad('webgpu', 12)}   webgpu on SwiftShader: its times prove nothing about GPU speed`);
  for (const s of STAGES) console.log(`${s.padEnd(12)}${pad(cpu.timings[s].toFixed(1), 10)}${pad(gpu.timings[s].toFixed(1), 12)}`);
  const pyramid = cpu.traffic.pyramid;
  const share = (n: number) => `${(n / 1e6).toFixed(3)} MB = ${(100 * n / pyramid).toFixed(2)}% of the pyramid`;
  console.log(`pyramid per image: ${(pyramid / 1e6).toFixed(3)} MB`);
  console.log(`read back to the CPU per image: cpu ${share(cpu.traffic.readBack)}; webgpu ${share(gpu.traffic.readBack)} (goal < 5%)`);
  if (gpuNms) console.log(`  webgpu with nms: 'gpu' (IoU bitmasks read back): ${share(gpuNms.traffic.readBack)}; total ${gpuNms.timings.total.toFixed(1)} ms on SwiftShader`);
}

// RESDET_BENCH_SWIFTSHADER=0 on a machine with a GPU: Vulkan finds its driver as usual.
if (process.env.RESDET_BENCH_SWIFTSHADER !== '0') useSwiftShader();
const r50GpuNms = process.env.RESDET_BENCH_R50_NMS_GPU === '1';
if (process.env.RESDET_BENCH_SHAPES !== '0') await bench('bundled shapes model', join(bundledModelsDir, 'shapes'), join(repoRoot, 'samples', 'shapes-1.png'), shapesRepeats, true);
if (process.argv[2]) {
  if (!process.argv[3]) throw new Error('usage: node dist/bench/gpu.js [<package folder> <image>]');
  await bench(process.argv[2], process.argv[2], process.argv[3], r50Repeats, r50GpuNms);
} else if (process.env.RESDET_BENCH_R50 !== '0') {
  const { pkg, image } = await r50Package();
  await bench('Mask R-CNN ResNet-50-FPN (seeded, npm run bench\'s; 800x1066 input)', pkg, image, r50Repeats, r50GpuNms);
}
