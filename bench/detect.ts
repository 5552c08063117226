/**
 * `npm run bench`: resdet's Mask R-CNN (ResNet-50-FPN, 480x640 image -> 800x1066) against
 * torchvision eager and against the same model exported whole to ONNX (opset 11) in the same
 * onnxruntime-node with the same threads. All three are measured in this one run; medians and
 * ratios are printed. Environment: RESDET_BENCH_THREADS (2), RESDET_BENCH_REPEATS (5).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCheckpoint } from '../src/convert/index.js';
import { pythonExecutable, repoRoot } from '../test/helpers/reference.js';

const threads = Number(process.env.RESDET_BENCH_THREADS ?? 2);
const repeats = Number(process.env.RESDET_BENCH_REPEATS ?? 5);
const here = dirname(fileURLToPath(import.meta.url));

function worker(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [join(here, 'detectWorker.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`bench worker ${args[0]} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

async function main(): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'resdet-bench-'));
  try {
    console.log(`torchvision: building the model, timing eager (${threads} threads, ${repeats} runs), exporting to ONNX opset 11...`);
    const py = spawnSync(pythonExecutable(), [join(repoRoot, 'bench', 'detect_reference.py'), folder, String(threads), String(repeats)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (py.status !== 0) throw new Error(`bench/detect_reference.py failed (exit ${py.status}); is python3-torchvision installed?`);
    const ref = JSON.parse(readFileSync(join(folder, 'meta.json'), 'utf8')) as { eagerMs: number; eagerPeakRssMiB: number; detections: number };
    const t0 = performance.now();
    await convertCheckpoint(join(folder, 'model.pth'), { out: join(folder, 'pkg') });
    const convertMs = performance.now() - t0;
    const image = join(folder, 'image.png');
    console.log('resdet and the whole-graph export in onnxruntime-node, each in its own process...');
    const ours = worker(['ours', join(folder, 'pkg'), image, String(threads), String(repeats)]) as {
      stages: Record<string, number>; outsideOnnxFraction: number; detections: number; peakRssMiB: number;
    };
    const whole = worker(['whole', join(folder, 'whole.onnx'), image, String(threads), String(repeats)]) as {
      medianMs: number; detections: number; peakRssMiB: number;
    };
    const s = ours.stages;
    console.log(`\nMask R-CNN ResNet-50-FPN, 480x640 image (800x1066 input), ${threads} threads, medians of ${repeats} runs after a warm-up`);
    console.log('resdet per stage:');
    for (const k of ['decode', 'transform', 'backbone', 'rpn', 'roiHeads', 'masks', 'postprocess', 'total']) console.log(`  ${k.padEnd(12)} ${ms(s[k]).padStart(9)}`);
    console.log(`  inside onnxruntime ${ms(s.onnxRuntime)}; outside (resdet TypeScript) ${(ours.outsideOnnxFraction * 100).toFixed(1)}% of total (goal < 10%)`);
    console.log(`\n${''.padEnd(34)} ${'median'.padStart(9)} ${'ours/it'.padStart(8)} ${'peak RSS'.padStart(10)} ${'detections'.padStart(10)}`);
    console.log(`${'resdet'.padEnd(34)} ${ms(s.total).padStart(9)} ${'1.00'.padStart(8)} ${`${ours.peakRssMiB.toFixed(0)} MiB`.padStart(10)} ${String(ours.detections).padStart(10)}`);
    console.log(`${'whole-graph ONNX (opset 11), ORT'.padEnd(34)} ${ms(whole.medianMs).padStart(9)} ${(s.total / whole.medianMs).toFixed(2).padStart(8)} ${`${whole.peakRssMiB.toFixed(0)} MiB`.padStart(10)} ${String(whole.detections).padStart(10)}`);
    console.log(`${'torchvision eager'.padEnd(34)} ${ms(ref.eagerMs).padStart(9)} ${(s.total / ref.eagerMs).toFixed(2).padStart(8)} ${`${ref.eagerPeakRssMiB.toFixed(0)} MiB`.padStart(10)} ${String(ref.detections).padStart(10)}`);
    console.log(`\ngoal: resdet <= 0.8x the whole-graph export. (convert took ${ms(convertMs)}; torchvision's RSS includes building and exporting.)`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
