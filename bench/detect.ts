/**
 * `npm run bench`: resdet's Mask R-CNN (ResNet-50-FPN, 480x640 image -> 800x1066) against
 * torchvision eager and against the same model exported whole to ONNX (opset 11) in the same
 * onnxruntime-node with the same threads, for the v1 family (`maskrcnn_resnet50_fpn`) and the v2
 * family (`maskrcnn_resnet50_fpn_v2`). Everything is measured in this one run; medians and ratios
 * are printed, one table per family, then one row per family side by side.
 * Environment: RESDET_BENCH_THREADS (2), RESDET_BENCH_REPEATS (5), RESDET_BENCH_FAMILIES (v1,v2).
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
const families = (process.env.RESDET_BENCH_FAMILIES ?? 'v1,v2').split(',').map((f) => f.trim());
const here = dirname(fileURLToPath(import.meta.url));
const familyName: Record<string, string> = { v1: 'Mask R-CNN ResNet-50-FPN (v1)', v2: 'Mask R-CNN ResNet-50-FPN v2' };

function worker(args: string[]): Record<string, unknown> {
  const run = spawnSync(process.execPath, [join(here, 'detectWorker.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`bench worker ${args[0]} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

interface FamilyRow {
  family: string;
  resdetMs: number;
  wholeMs: number;
  eagerMs: number;
}

async function benchFamily(family: string, folder: string): Promise<FamilyRow> {
  console.log(`\n[${familyName[family]}] torchvision: building the model, timing eager (${threads} threads, ${repeats} runs), exporting to ONNX opset 11...`);
  const py = spawnSync(pythonExecutable(), [join(repoRoot, 'bench', 'detect_reference.py'), folder, String(threads), String(repeats), family], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (py.status !== 0) throw new Error(`bench/detect_reference.py failed (exit ${py.status}); is python3-torchvision installed? (npm run setup:test)`);
  const ref = JSON.parse(readFileSync(join(folder, 'meta.json'), 'utf8')) as { eagerMs: number; eagerPeakRssMiB: number; detections: number };
  const t0 = performance.now();
  const converted = await convertCheckpoint(join(folder, 'model.pth'), { out: join(folder, 'pkg') });
  const convertMs = performance.now() - t0;
  const image = join(folder, 'image.png');
  console.log(`converted as ${converted.family}; resdet and the whole-graph export in onnxruntime-node, each in its own process...`);
  const ours = worker(['ours', join(folder, 'pkg'), image, String(threads), String(repeats)]) as {
    stages: Record<string, number>; outsideOnnxFraction: number; detections: number; peakRssMiB: number;
  };
  const whole = worker(['whole', join(folder, 'whole.onnx'), image, String(threads), String(repeats)]) as {
    medianMs: number; detections: number; peakRssMiB: number;
  };
  const s = ours.stages;
  console.log(`\n${familyName[family]}, 480x640 image (800x1066 input), ${threads} threads, medians of ${repeats} runs after a warm-up`);
  console.log('resdet per stage:');
  for (const k of ['decode', 'transform', 'backbone', 'rpn', 'roiHeads', 'masks', 'postprocess', 'total']) console.log(`  ${k.padEnd(12)} ${ms(s[k]).padStart(9)}`);
  console.log(`  inside onnxruntime ${ms(s.onnxRuntime)}; outside (resdet TypeScript) ${(ours.outsideOnnxFraction * 100).toFixed(1)}% of total (goal < 10%)`);
  console.log(`\n${''.padEnd(34)} ${'median'.padStart(9)} ${'ours/it'.padStart(8)} ${'peak RSS'.padStart(10)} ${'detections'.padStart(10)}`);
  console.log(`${'resdet'.padEnd(34)} ${ms(s.total).padStart(9)} ${'1.00'.padStart(8)} ${`${ours.peakRssMiB.toFixed(0)} MiB`.padStart(10)} ${String(ours.detections).padStart(10)}`);
  console.log(`${'whole-graph ONNX (opset 11), ORT'.padEnd(34)} ${ms(whole.medianMs).padStart(9)} ${(s.total / whole.medianMs).toFixed(2).padStart(8)} ${`${whole.peakRssMiB.toFixed(0)} MiB`.padStart(10)} ${String(whole.detections).padStart(10)}`);
  console.log(`${'torchvision eager'.padEnd(34)} ${ms(ref.eagerMs).padStart(9)} ${(s.total / ref.eagerMs).toFixed(2).padStart(8)} ${`${ref.eagerPeakRssMiB.toFixed(0)} MiB`.padStart(10)} ${String(ref.detections).padStart(10)}`);
  console.log(`(convert took ${ms(convertMs)}; torchvision's RSS includes building and exporting.)`);
  return { family, resdetMs: s.total, wholeMs: whole.medianMs, eagerMs: ref.eagerMs };
}

async function main(): Promise<void> {
  const unknown = families.filter((f) => !(f in familyName));
  if (unknown.length) throw new Error(`RESDET_BENCH_FAMILIES: unknown ${unknown.join(', ')} (v1, v2)`);
  const rows: FamilyRow[] = [];
  for (const family of families) {
    const folder = mkdtempSync(join(tmpdir(), `resdet-bench-${family}-`));
    try {
      rows.push(await benchFamily(family, folder));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }
  console.log(`\nside by side (medians; ratio = resdet / the other):`);
  console.log(`${''.padEnd(32)} ${'resdet'.padStart(9)} ${'whole ONNX'.padStart(11)} ${'ratio'.padStart(6)} ${'eager'.padStart(9)} ${'ratio'.padStart(6)}`);
  for (const r of rows) {
    console.log(`${familyName[r.family].padEnd(32)} ${ms(r.resdetMs).padStart(9)} ${ms(r.wholeMs).padStart(11)} ${(r.resdetMs / r.wholeMs).toFixed(2).padStart(6)} ${ms(r.eagerMs).padStart(9)} ${(r.resdetMs / r.eagerMs).toFixed(2).padStart(6)}`);
  }
  console.log('goal: resdet <= 0.8x the whole-graph export. Both keep every detection above score 0.05 (torchvision\'s box_score_thresh).');
}

await main();
