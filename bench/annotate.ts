/**
 * `npm run bench:annotate`: `resdet annotate` against a plain loop of `detect` calls writing the
 * same files (instances.json with RLE masks, and previews when on), on the bundled model over
 * generated shapes images, each side in its own process, alternating, side by side in one run;
 * then data parallelism alone (one plain 1-thread loop per core at once, each on a share of the
 * images: what more cores give without annotate's overlapping), then the memory of one long
 * annotate run (RSS after its first images and at its end).
 * Environment: RESDET_BENCH_IMAGES (200), RESDET_BENCH_REPEATS (3), RESDET_BENCH_LONG (2000),
 * RESDET_BENCH_THREADS (unset: annotate's defaults, --jobs and --threads as the CLI picks them,
 * against the detect loop at its faster setting of 1 thread or all the cores).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasetScene, encodePng } from '../src/dataset/generate.js';
import { defaultJobs, jobThreads } from '../src/cli/annotate.js';
import { writeFileAtomic } from '../src/cli/files.js';

const images = Number(process.env.RESDET_BENCH_IMAGES ?? 200);
const repeats = Number(process.env.RESDET_BENCH_REPEATS ?? 3);
const long = Number(process.env.RESDET_BENCH_LONG ?? 2000);
const threads = process.env.RESDET_BENCH_THREADS ?? '';
const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'src', 'cli', 'main.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `count` shapes scenes of 256-320 px (the bundled model's kind of image), as PNG files. */
async function writeImages(dir: string, count: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const size = [256, 288, 320][i % 3];
    const scene = datasetScene({ seed: 5, width: size, height: size }, 'val', i);
    writeFileAtomic(join(dir, `${String(i).padStart(5, '0')}.png`), await encodePng(scene.rgb, size, size));
  }
}

/**
 * Data parallelism alone on this machine: `parts` plain 1-thread loops at once, each on every
 * parts-th image, in their own processes (models loaded outside their timings, as the loop's):
 * the images of all over the longest one's seconds.
 */
async function parallelLoops(dir: string, root: string, parts: number): Promise<number> {
  const runs = Array.from({ length: parts }, (_, k) => new Promise<{ images: number; seconds: number }>((resolve, reject) => {
    const out = join(root, `out-part-${k}`);
    rmSync(out, { recursive: true, force: true });
    const child = spawn(process.execPath, [join(here, 'annotateWorker.js'), 'loop', dir, out, '1', '1', `${k}/${parts}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { images: number; seconds: number }) : reject(new Error(`parallel loop ${k} failed (exit ${code})`))));
  }));
  const done = await Promise.all(runs);
  return done.reduce((n, r) => n + r.images, 0) / Math.max(...done.map((r) => r.seconds));
}

function side(mode: 'loop' | 'annotate', dir: string, out: string, previews: boolean, sideThreads = threads): { imagesPerSecond: number; detections: number } {
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [join(here, 'annotateWorker.js'), mode, dir, out, previews ? '1' : '0', sideThreads], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench worker ${mode} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { imagesPerSecond: number; detections: number };
}

/** RSS (MiB) of `pid` from /proc, or NaN once it is gone. */
function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function journalRecords(out: string): number {
  const path = join(out, 'annotate.journal');
  return existsSync(path) ? readFileSync(path, 'latin1').split('\n').length - 2 : 0;
}

/** One `resdet annotate` over `count` images (copies of the generated ones: annotate takes a file linked twice once), RSS sampled as it goes. */
async function longRun(source: string, count: number, root: string): Promise<{ early: number; end: number; peak: number; seconds: number }> {
  const dir = join(root, 'long');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) copyFileSync(join(source, `${String(i % images).padStart(5, '0')}.png`), join(dir, `${String(i).padStart(5, '0')}.png`));
  const out = join(root, 'long-out');
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'annotate', dir, '--out', out, '--previews', ...(threads ? ['--threads', threads] : [])], { stdio: 'ignore' });
  let early = NaN;
  let end = NaN;
  let peak = 0;
  const timer = setInterval(() => {
    const rss = rssMiB(child.pid!);
    if (!Number.isFinite(rss)) return;
    peak = Math.max(peak, rss);
    if (Number.isNaN(early) && journalRecords(out) >= 100) early = rss;
    end = rss;
  }, 250);
  await new Promise((resolve) => child.on('close', resolve));
  clearInterval(timer);
  return { early, end, peak, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'resdet-bench-annotate-'));
  try {
    const dir = join(root, 'images');
    await writeImages(dir, images);
    // The loop gets its faster thread setting: 1 thread, or all the cores.
    let loopThreads = threads;
    if (!loopThreads) {
      const cores = availableParallelism();
      const tried = [1, cores].map((t) => ({ t, ips: side('loop', dir, join(root, 'out-loop'), true, String(t)).imagesPerSecond }));
      loopThreads = String(tried.reduce((a, b) => (b.ips > a.ips ? b : a)).t);
      console.log(`detect loop, previews on: ${tried.map((x) => `${x.t} thread${x.t > 1 ? 's' : ''} ${x.ips.toFixed(1)} images/s`).join(', ')}: the loop runs with ${loopThreads}`);
    }
    const jobs = defaultJobs('cpu');
    console.log(`${images} generated shapes images (256-320 px), bundled model, ${repeats} alternating runs per side; annotate: ${threads ? `${threads} threads` : `its defaults, ${jobs} job${jobs > 1 ? 's' : ''} of ${jobThreads(jobs, 1)} thread${jobThreads(jobs, 1) > 1 ? 's' : ''} (model loading inside the timing)`}; detect loop: ${loopThreads} thread${loopThreads === '1' ? '' : 's'}, model loaded and warm outside the timing`);
    const rows: string[] = [];
    let loopOn = NaN;
    for (const previews of [true, false]) {
      const loop: number[] = [];
      const ours: number[] = [];
      for (let r = 0; r < repeats; r++) {
        loop.push(side('loop', dir, join(root, 'out-loop'), previews, loopThreads).imagesPerSecond);
        ours.push(side('annotate', dir, join(root, 'out-annotate'), previews).imagesPerSecond);
      }
      const [l, a] = [median(loop), median(ours)];
      if (previews) loopOn = l;
      rows.push(`${(previews ? 'previews on' : 'previews off').padEnd(14)} ${a.toFixed(1).padStart(9)} ${l.toFixed(1).padStart(9)} ${(a / l).toFixed(2).padStart(7)}`);
      console.log(`  previews ${previews ? 'on' : 'off'}: annotate ${ours.map((x) => x.toFixed(1)).join(', ')} images/s; loop ${loop.map((x) => x.toFixed(1)).join(', ')}`);
    }
    console.log(`\nimages/s (medians)  ${'annotate'.padStart(9)} ${'detect loop'.padStart(9)} ${'ratio'.padStart(7)}`);
    for (const row of rows) console.log(`${row}`);
    console.log('goal: >= 1.3x with previews on');
    const cores = availableParallelism();
    if (cores > 1) {
      const together: number[] = [];
      const alone: number[] = [];
      for (let r = 0; r < repeats; r++) {
        together.push(await parallelLoops(dir, root, cores));
        alone.push(side('loop', dir, join(root, 'out-loop'), true, '1').imagesPerSecond);
      }
      const [t, a] = [median(together), median(alone)];
      console.log(`\ndata parallelism alone on this machine, previews on: ${cores} plain 1-thread loops at once, each on 1/${cores} of the images (models loaded outside the timing): ${t.toFixed(1)} images/s together, one alone ${a.toFixed(1)} (${(t / a).toFixed(2)}x from ${cores} cores), ${(t / loopOn).toFixed(2)}x the ${loopThreads}-thread loop`);
    }
    if (long > 0) {
      const m = await longRun(dir, long, root);
      console.log(`\nmemory: ${long} images with previews in ${m.seconds.toFixed(0)} s: RSS ${m.early.toFixed(0)} MiB after 100 images, ${m.end.toFixed(0)} MiB at the end (peak ${m.peak.toFixed(0)} MiB)`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
