/**
 * `npm run bench:ops`: our operators vs torchvision 0.14's CPU kernels on the same inputs, in one
 * run, both on one thread. bench/ops_reference.py makes the seeded inputs and times torchvision;
 * this script times ours on them and prints medians and the ratio ours / torchvision.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchedNms, multiScaleRoiAlign, nms, pasteMasksInImage } from '../postprocess/index.js';
import { pythonExecutable, repoRoot } from '../test/helpers/reference.js';
import { type Archive, getFloat32, getInt, getShape, readArchive } from '../test/helpers/tensorArchive.js';

const repeats = Number(process.env.RESDET_BENCH_REPEATS ?? 9);

function medianMs(fn: () => unknown): number {
  // Warm up until V8 has optimised the hot loops (a few calls; steady state is what a detector sees).
  for (let i = 0, t0 = performance.now(); i < 5 || performance.now() - t0 < 300; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

function cases(a: Archive): Array<{ key: string; label: string; run: () => unknown }> {
  const [imageH, imageW] = a.meta.imageSize as [number, number];
  const levels = [0, 1, 2, 3].map((i) => {
    const shape = getShape(a, `features/${i}`) as [number, number, number, number];
    return { name: String(i), stride: 4 << i, channels: shape[1], data: getFloat32(a, `features/${i}`), shape };
  });
  const f = (name: string) => getFloat32(a, name);
  const idxs = getInt(a, 'batched/idxs');
  return [
    ...[1000, 5000].map((n) => ({
      key: `nms${n}`, label: `nms, ${n} boxes, IoU 0.7`,
      run: ((boxes, scores) => () => nms(boxes, scores, 0.7))(f(`nms${n}/boxes`), f(`nms${n}/scores`)),
    })),
    {
      key: 'batched', label: 'batchedNms, 5000 boxes, 80 groups, IoU 0.5',
      run: ((boxes, scores) => () => batchedNms(boxes, scores, idxs, 0.5))(f('batched/boxes'), f('batched/scores')),
    },
    ...[[7, 1000], [14, 100]].map(([size, n]) => ({
      key: `roi${size}`, label: `multiScaleRoiAlign, ${n} RoIs, 256 ch, ${imageH}x${imageW} -> ${size}x${size}`,
      run: ((boxes) => () => multiScaleRoiAlign(levels, [boxes], { outputSize: [size, size], samplingRatio: 2 }))(f(`roi${size}/boxes`)),
    })),
    {
      key: 'paste', label: `pasteMasksInImage, 100 28x28 masks -> ${imageH}x${imageW}`,
      run: ((masks, boxes) => () => pasteMasksInImage(masks, boxes, imageH, imageW, { padding: 1 }))(f('paste/masks'), f('paste/boxes')),
    },
  ];
}

function main(): void {
  const folder = mkdtempSync(join(tmpdir(), 'resdet-bench-ops-'));
  try {
    console.log(`torchvision side (1 thread, ${repeats} repeats)...`);
    const run = spawnSync(pythonExecutable(), [join(repoRoot, 'bench', 'ops_reference.py'), folder], {
      stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1', RESDET_BENCH_REPEATS: String(repeats) },
    });
    if (run.status !== 0) throw new Error(`bench/ops_reference.py failed (exit ${run.status}); is python3-torchvision installed?`);
    const a = readArchive(folder);
    const reference = a.meta.torchvisionMs as Record<string, number>;
    console.log(`\n${'operator'.padEnd(64)} ${'ours ms'.padStart(9)} ${'tv ms'.padStart(9)} ${'ours/tv'.padStart(8)}`);
    for (const c of cases(a)) {
      const ours = medianMs(c.run);
      const theirs = reference[c.key];
      console.log(`${c.label.padEnd(64)} ${ours.toFixed(2).padStart(9)} ${theirs.toFixed(2).padStart(9)} ${(ours / theirs).toFixed(2).padStart(8)}`);
    }
    console.log(`\nmedians of ${repeats} runs after a warm-up of >= 5 calls and 300 ms; torch ${String(a.meta.torch)}, ${String(a.meta.threads)} thread; Node ${process.version}, single-threaded JS`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

main();
