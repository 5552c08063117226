/**
 * The long-lived child of `npm run fuzz`: takes cases one by one over IPC, runs each through
 * resdet's public API (loadCheckpoint, convertCheckpoint, readModelPackage, loadModel + detect,
 * detect with the bundled model kept loaded) and reports the outcome class with its memory after
 * the case. The parent enforces the time and memory limits by killing this process.
 */
import { readFileSync, rmSync } from 'node:fs';
import { ResdetError } from '../postprocess/errors.js';
import { loadCheckpoint } from '../src/checkpoint/index.js';
import { convertCheckpoint, type Detector, loadModel, readModelPackage } from '../src/index.js';

/** What to run, as the parent sends it. Paths are files the parent wrote for this case. */
export type WorkerJob =
  | { index: number; op: 'loadCheckpoint'; path: string }
  | { index: number; op: 'convert'; path: string; out: string }
  | { index: number; op: 'readModelPackage'; dir: string }
  | { index: number; op: 'loadModel'; dir: string; image: string }
  | { index: number; op: 'detect'; input: DetectInput; options?: Record<string, unknown> };

/** How detect receives the image: its path, its bytes, or raw pixels read from the file. */
export type DetectInput =
  | { kind: 'path'; path: string }
  | { kind: 'buffer'; path: string }
  | { kind: 'pixels'; path: string; width: number; height: number; channels?: number };

/** The outcome classes: ok, a ResdetError (expected), anything else thrown (a finding). */
export type Outcome =
  | { kind: 'ok'; detail: string }
  | { kind: 'typed'; name: string; code: string; message: string }
  | { kind: 'untyped'; name: string; message: string; frame: string; stack: string };

export interface WorkerResult {
  type: 'result';
  index: number;
  outcome: Outcome;
  /** Which call threw, for loadModel cases ('loadModel' or 'detect'). */
  stage: string;
  ms: number;
  /** Bytes, after the case. */
  rss: number;
  /** Peak RSS of this process so far (VmHWM), bytes. */
  maxRss: number;
}

export type WorkerMessage =
  | { type: 'ready'; rss: number }
  | WorkerResult
  | { type: 'fatal'; index: number; message: string; stack: string };

/**
 * This process's own peak RSS: VmHWM, which starts afresh at exec. getrusage's maxRSS does not on
 * Linux: a forked child inherits the parent's peak, so a parent that once held a bomb's pixels
 * would make every child look over the limit.
 */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS * 1024;
}

function send(m: WorkerMessage): void {
  process.send?.(m);
}

/** The first stack line that is ours (dist/...), else the first one. */
function firstFrame(stack: string): string {
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l)).map((l) => l.trim());
  return frames.find((f) => /\/dist\//.test(f)) ?? frames[0] ?? '';
}

export function classify(e: unknown): Outcome {
  if (e instanceof ResdetError) return { kind: 'typed', name: e.name, code: e.code, message: e.message.slice(0, 500) };
  const err = e instanceof Error ? e : new Error(`non-Error thrown: ${String(e)}`);
  const stack = err.stack ?? '';
  // The top of the stack, then our frames below it (a stack overflow's top is thousands of builtins).
  const lines = stack.split('\n');
  const ours = lines.slice(8).filter((l) => /\/dist\//.test(l)).slice(0, 8);
  return { kind: 'untyped', name: err.name, message: err.message.slice(0, 500), frame: firstFrame(stack), stack: [...lines.slice(0, 8), ...(ours.length ? ['    ...', ...ours] : [])].join('\n') };
}

// Whole stacks, so a stack overflow still shows which of our functions recursed.
Error.stackTraceLimit = Infinity;

let bundled: Promise<Detector> | undefined;
let currentIndex = -1;
/** The call running now, so an error is reported against it. */
let stage = '';

async function runJob(job: WorkerJob): Promise<{ detail: string; stage: string }> {
  switch (job.op) {
    case 'loadCheckpoint': {
      const sd = await loadCheckpoint(job.path);
      return { detail: `${sd.size} tensors`, stage: 'loadCheckpoint' };
    }
    case 'convert': {
      try {
        const s = await convertCheckpoint(job.path, { out: job.out, force: true });
        return { detail: `${s.parameters} parameters`, stage: 'convert' };
      } finally {
        rmSync(job.out, { recursive: true, force: true });
      }
    }
    case 'readModelPackage': {
      const pkg = readModelPackage(job.dir);
      return { detail: `${Object.keys(pkg.files).length} networks`, stage: 'readModelPackage' };
    }
    case 'loadModel': {
      const model = await loadModel(job.dir, { threads: 1 });
      try {
        stage = 'detect';
        const r = await model.detect(job.image, { scoreThreshold: 0 });
        return { detail: `loaded, ${r.detections.length} detections`, stage: 'detect' };
      } finally {
        await model.release();
      }
    }
    case 'detect': {
      bundled ??= loadModel('shapes', { threads: 1 });
      const model = await bundled;
      stage = 'detect';
      const i = job.input;
      const input = i.kind === 'path' ? i.path
        : i.kind === 'buffer' ? new Uint8Array(readFileSync(i.path))
          : { data: new Uint8Array(readFileSync(i.path)), width: i.width, height: i.height, ...(i.channels !== undefined ? { channels: i.channels as 3 | 4 } : {}) };
      const r = await model.detect(input, job.options);
      return { detail: `${r.detections.length} detections (${r.width}x${r.height})`, stage: 'detect' };
    }
  }
}

process.on('message', (job: WorkerJob) => {
  currentIndex = job.index;
  stage = job.op === 'loadModel' ? 'loadModel' : job.op;
  const t0 = performance.now();
  const finish = (outcome: Outcome, st: string) => send({
    type: 'result', index: job.index, outcome, stage: st, ms: performance.now() - t0,
    rss: process.memoryUsage().rss, maxRss: peakRss(),
  });
  runJob(job).then(({ detail, stage: st }) => finish({ kind: 'ok', detail }, st), (e: unknown) => finish(classify(e), stage));
});

// An error escaping every promise chain: report it against the running case, then die as Node would.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    send({ type: 'fatal', index: currentIndex, message: `${event}: ${err.name}: ${err.message}`.slice(0, 500), stack: err.stack ?? '' });
    setTimeout(() => process.exit(70), 50);
  });
}

process.on('disconnect', () => process.exit(0));

// Warm the bundled model before the first image case, so its load is not timed against a case.
if (process.argv.includes('--preload-model')) {
  bundled = loadModel('shapes', { threads: 1 });
  await bundled;
}
send({ type: 'ready', rss: process.memoryUsage().rss });
