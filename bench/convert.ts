/**
 * `npm run bench:convert`: `resdet convert` on a ResNet-50-FPN Mask R-CNN checkpoint (~170 MB) in
 * both torch formats, each conversion in its own process: wall time and peak RSS against the
 * checkpoint's size (goals: < 10 s, < 2x the checkpoint). Medians of RESDET_BENCH_REPEATS (3) runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonExecutable, repoRoot } from '../test/helpers/reference.js';

const repeats = Number(process.env.RESDET_BENCH_REPEATS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const folder = mkdtempSync(join(tmpdir(), 'resdet-bench-convert-'));
try {
  const py = spawnSync(pythonExecutable(), [join(repoRoot, 'bench', 'convert_reference.py'), folder], { stdio: 'inherit' });
  if (py.status !== 0) throw new Error('bench/convert_reference.py failed; is python3-torchvision installed?');
  console.log(`${'checkpoint'.padEnd(26)} ${'size'.padStart(9)} ${'time'.padStart(8)} ${'peak RSS'.padStart(10)} ${'RSS/size'.padStart(9)}`);
  for (const name of ['maskrcnn_r50_zip.pth', 'maskrcnn_r50_legacy.pth']) {
    const path = join(folder, name);
    const size = statSync(path).size / 2 ** 20;
    const times: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const out = join(folder, `pkg-${i}`);
      const run = spawnSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'convertWorker.js'), path, out], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`convert failed: ${run.stderr}`);
      const r = JSON.parse(run.stdout) as { seconds: number; peakRssMiB: number };
      times.push(r.seconds);
      rss.push(r.peakRssMiB);
      rmSync(out, { recursive: true, force: true });
    }
    const r = median(rss);
    console.log(`${name.padEnd(26)} ${`${size.toFixed(0)} MiB`.padStart(9)} ${`${median(times).toFixed(1)} s`.padStart(8)} ${`${r.toFixed(0)} MiB`.padStart(10)} ${(r / size).toFixed(2).padStart(9)}`);
  }
  console.log(`\nmedians of ${repeats} runs, each in a fresh process (time: read, build, write; RSS: the whole process); goals < 10 s and RSS < 2x the checkpoint`);
} finally {
  rmSync(folder, { recursive: true, force: true });
}
