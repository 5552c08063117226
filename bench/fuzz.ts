/**
 * `npm run fuzz`: thousands of random mutations of the real checkpoint (and its legacy and
 * safetensors twins), the bundled package and the sample images through loadCheckpoint /
 * convertCheckpoint, readModelPackage / loadModel (+ detect) and detect, each in a long-lived
 * child process under a time and memory limit.
 *
 * Outcome classes: ok; a typed error (a ResdetError: expected, counted by code); and the
 * findings: an untyped error (TypeError, RangeError, ...), a timeout, memory over the limit, a
 * crash of the child. Each finding's input is saved under .cache/fuzz/findings/<target>-<n>.*
 * with a note (<target>-<n>.note.json) and replays with `--replay <file>`.
 *
 *   node dist/bench/fuzz.js [--seed S] [--cases N per target] [--target checkpoint|package|image|all]
 *     [--time-limit-ms T] [--memory-limit-mb M] [--jobs J] [--out DIR] [--replay FILE]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FuzzCase, type Seeds, TARGETS, type Target, loadSeeds, makeCase, seedCases } from './fuzzCases.js';
import type { Outcome, WorkerJob, WorkerMessage, WorkerResult } from './fuzzWorker.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const workerPath = join(here, 'fuzzWorker.js');

interface Args {
  seed: number; cases: number; targets: Target[]; timeLimitMs: number; memoryLimitMb: number; jobs: number; out: string;
  replay?: string; recycle: number; verbose: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seed: 1, cases: 1000, targets: [...TARGETS], timeLimitMs: 10_000, memoryLimitMb: 1024, jobs: 2, out: join(root, '.cache/fuzz/findings'), recycle: 400, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    const num = (name: string) => { const n = Number(v); if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a number, got ${v}`); i++; return n; };
    switch (argv[i]) {
      case '--seed': a.seed = num('--seed'); break;
      case '--cases': a.cases = Math.floor(num('--cases')); break;
      case '--time-limit-ms': a.timeLimitMs = num('--time-limit-ms'); break;
      case '--memory-limit-mb': a.memoryLimitMb = num('--memory-limit-mb'); break;
      case '--jobs': a.jobs = Math.max(1, Math.floor(num('--jobs'))); break;
      case '--recycle': a.recycle = Math.max(1, Math.floor(num('--recycle'))); break;
      case '--verbose': a.verbose = true; break;
      case '--out': a.out = resolve(v); i++; break;
      case '--replay': a.replay = resolve(v); i++; break;
      case '--target':
        if (v !== 'all' && !TARGETS.includes(v as Target)) throw new Error(`--target is one of ${TARGETS.join(', ')}, all`);
        a.targets = v === 'all' ? [...TARGETS] : [v as Target]; i++; break;
      case '--help': case '-h':
        console.log('usage: node dist/bench/fuzz.js [--seed S] [--cases N (per target)] [--target checkpoint|package|image|all] [--time-limit-ms T] [--memory-limit-mb M] [--jobs J] [--out DIR] [--replay FILE] [--verbose]');
        process.exit(0);
      // falls through
      default: throw new Error(`unknown argument ${argv[i]} (--help)`);
    }
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// the child

type FindingClass = 'untyped' | 'timeout' | 'memory' | 'crash';
type RunOutcome =
  | { kind: 'result'; result: WorkerResult }
  | { kind: 'timeout' }
  | { kind: 'memory'; rss: number }
  | { kind: 'crash'; code: number | null; signal: string | null; fatal?: { message: string; stack: string }; stderr: string };

function procRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

/** One long-lived child; restarted by its runner after a case kills it. */
class FuzzChild {
  private child: ChildProcess | null = null;
  private stderrTail = '';
  private settle: ((o: RunOutcome) => void) | null = null;
  private fatal: { message: string; stack: string } | undefined;
  casesRun = 0;

  constructor(private readonly preloadModel: boolean, private readonly memoryLimit: number) {}

  get alive(): boolean { return this.child !== null; }

  async start(): Promise<void> {
    this.stderrTail = '';
    this.casesRun = 0;
    const child = fork(workerPath, this.preloadModel ? ['--preload-model'] : [], {
      serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], cwd: root,
      execArgv: [`--max-old-space-size=${Math.ceil(this.memoryLimit / 2 ** 20)}`],
    });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => { this.stderrTail = (this.stderrTail + d.toString()).slice(-4000); });
    await new Promise<void>((ok, fail) => {
      const onExit = (code: number | null) => fail(new Error(`fuzz worker exited (${code}) before it was ready:\n${this.stderrTail}`));
      child.once('exit', onExit);
      child.once('message', (m: WorkerMessage) => { child.off('exit', onExit); if (m.type === 'ready') ok(); else fail(new Error('worker: unexpected first message')); });
    });
    child.on('message', (m: WorkerMessage) => {
      if (this.child !== child) return;
      if (m.type === 'fatal') this.fatal = { message: m.message, stack: m.stack };
      else if (m.type === 'result') this.finish({ kind: 'result', result: m });
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.finish({ kind: 'crash', code, signal, fatal: this.fatal, stderr: this.stderrTail });
    });
  }

  private finish(o: RunOutcome): void {
    this.settle?.(o);
  }

  kill(): void {
    const c = this.child;
    this.child = null;
    if (c?.pid !== undefined) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ } }
  }

  /** Runs one job under the limits; the child is dead afterwards unless the outcome is 'result'. */
  run(job: WorkerJob, timeLimitMs: number): Promise<RunOutcome> {
    const child = this.child!;
    this.fatal = undefined;
    this.stderrTail = '';
    this.casesRun++;
    return new Promise<RunOutcome>((resolveRun) => {
      const done = (o: RunOutcome) => {
        if (this.settle !== done) return;
        this.settle = null;
        clearTimeout(timer);
        clearInterval(poll);
        resolveRun(o);
      };
      const timer = setTimeout(() => { done({ kind: 'timeout' }); this.kill(); }, timeLimitMs);
      // RSS sampled from /proc while the case runs: a runaway allocation is stopped at the limit.
      const poll = setInterval(() => {
        const rss = child.pid ? procRss(child.pid) : 0;
        if (rss > this.memoryLimit) { done({ kind: 'memory', rss }); this.kill(); }
      }, 25);
      this.settle = done;
      child.send(job);
    });
  }

  stop(): void { this.child?.disconnect(); this.child = null; }
}

// ---------------------------------------------------------------------------------------------
// cases on disk

/** Writes a case's files into `dir` and returns the job that runs them. */
function materialize(c: FuzzCase, seeds: Seeds, dir: string): WorkerJob {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (c.target === 'package') {
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    // Unchanged files are hard links to one copy per job (a symbolic link out of the folder is refused).
    const base = join(dirname(dir), `${basename(dir)}-package`);
    for (const name of seeds.packageFiles.keys()) {
      if (c.files[name]) { writeFileSync(join(pkg, name), c.files[name]); continue; }
      if (!existsSync(join(base, name))) { mkdirSync(base, { recursive: true }); writeFileSync(join(base, name), seeds.packageFiles.get(name)!); }
      try { linkSync(join(base, name), join(pkg, name)); } catch { copyFileSync(join(base, name), join(pkg, name)); }
    }
    return c.op === 'loadModel'
      ? { index: c.index, op: 'loadModel', dir: pkg, image: join(root, 'samples/shapes-1.png') }
      : { index: c.index, op: 'readModelPackage', dir: pkg };
  }
  const [name, bytes] = Object.entries(c.files)[0];
  const path = join(dir, name);
  writeFileSync(path, bytes);
  if (c.op === 'loadCheckpoint') return { index: c.index, op: 'loadCheckpoint', path };
  if (c.op === 'convert') return { index: c.index, op: 'convert', path, out: join(dir, 'converted') };
  const input = c.input === 'pixels' ? { kind: 'pixels' as const, path, ...c.pixels! } : { kind: c.input ?? 'path', path };
  return { index: c.index, op: 'detect', input, ...(c.options ? { options: c.options } : {}) };
}

// ---------------------------------------------------------------------------------------------
// outcomes

interface CaseRecord {
  id: string; target: Target; index: number; op: string; seed: string; what: string;
  cls: 'ok' | 'typed' | FindingClass;
  name?: string; code?: string; message?: string; frame?: string; stack?: string; stage?: string;
  ms: number; rssMb?: number; maxRssMb?: number;
}

const mb = (b: number) => Math.round(b / 2 ** 20);

function record(c: FuzzCase, o: RunOutcome, ms: number, memoryLimit: number): CaseRecord {
  const base = { id: `${c.target}-${c.index}`, target: c.target, index: c.index, op: c.op, seed: c.seed, what: c.what, ms: Math.round(ms) };
  if (o.kind === 'timeout') return { ...base, cls: 'timeout', name: 'timeout', message: `no result within the time limit (${c.op})` };
  if (o.kind === 'memory') return { ...base, cls: 'memory', name: 'memory', message: `RSS reached ${mb(o.rss)} MB during ${c.op} (killed)`, rssMb: mb(o.rss) };
  if (o.kind === 'crash') {
    const oom = /heap out of memory|Reached heap limit|Allocation failed/i.test(o.stderr);
    const lines = o.stderr.split('\n').filter((l) => l.trim()).slice(-3).join(' | ');
    const message = o.fatal?.message ?? `child exited (code ${o.code}, signal ${o.signal})${lines ? `: ${lines}` : ''}`;
    return { ...base, cls: oom ? 'memory' : 'crash', name: oom ? 'memory' : 'crash', message: oom ? `V8 heap out of memory in ${c.op}` : message.slice(0, 600), stack: o.fatal?.stack, frame: firstOurs(o.fatal?.stack ?? '') };
  }
  const r = o.result;
  const out: Outcome = r.outcome;
  const mem = { rssMb: mb(r.rss), maxRssMb: mb(r.maxRss), stage: r.stage, ms: Math.round(r.ms) };
  if (r.maxRss > memoryLimit) {
    return { ...base, ...mem, cls: 'memory', name: 'memory', message: `peak RSS ${mb(r.maxRss)} MB over the ${mb(memoryLimit)} MB limit in ${r.stage} (then ${out.kind}${out.kind !== 'ok' ? ` ${out.name}: ${out.message.slice(0, 120)}` : ''})` };
  }
  if (out.kind === 'ok') return { ...base, ...mem, cls: 'ok', message: out.detail };
  if (out.kind === 'typed') return { ...base, ...mem, cls: 'typed', name: out.name, code: out.code, message: out.message };
  return { ...base, ...mem, cls: 'untyped', name: out.name, message: out.message, frame: out.frame, stack: out.stack };
}

function firstOurs(stack: string): string {
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l)).map((l) => l.trim());
  return frames.find((f) => /\/dist\//.test(f)) ?? frames[0] ?? '';
}

/** Findings that differ only in numbers, paths or quoted names are one finding. */
function dedupKey(r: CaseRecord): string {
  const norm = (s = '') => s.replace(/\/[^\s:'"()]+/g, '<path>').replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 120);
  if (r.cls === 'untyped') return `${r.cls}|${r.name}|${norm(r.message)}|${r.frame?.replace(/^at /, '').replace(/:\d+\)?$/, '') ?? ''}`;
  if (r.cls === 'crash') return `${r.cls}|${r.op}|${norm(r.message)}`;
  // timeouts and memory: by operation and mutation family (the mutation text up to its first number)
  return `${r.cls}|${r.target}|${r.op}|${r.what.split(/[@=\d[(]/)[0].trim()}`;
}

function encodeSpecial(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? { $number: String(x) } : x === undefined ? { $undefined: true } : x)));
}

function decodeSpecial(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeSpecial);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$number === 'string') return Number(o.$number);
    if (o.$undefined === true) return undefined;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeSpecial(x)]));
  }
  return v;
}

function saveFinding(out: string, c: FuzzCase, r: CaseRecord, args: Args): void {
  mkdirSync(out, { recursive: true });
  const files: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(c.files)) {
    const file = `${r.id}.${name}`;
    writeFileSync(join(out, file), bytes);
    files[name] = file;
  }
  const note = {
    id: r.id, target: c.target, seed: args.seed, index: c.index, op: c.op, seedInput: c.seed, mutation: c.what,
    input: c.input, pixels: encodeSpecial(c.pixels), options: encodeSpecial(c.options), files,
    outcome: { class: r.cls, name: r.name, code: r.code, message: r.message, frame: r.frame, stage: r.stage, ms: r.ms, rssMb: r.rssMb, maxRssMb: r.maxRssMb, stack: r.stack },
    limits: { timeLimitMs: args.timeLimitMs, memoryLimitMb: args.memoryLimitMb },
    replay: `node dist/bench/fuzz.js --replay ${join(out, `${r.id}.note.json`)}`,
  };
  writeFileSync(join(out, `${r.id}.note.json`), `${JSON.stringify(note, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// running

function timeLimitFor(c: FuzzCase, base: number): number {
  return c.op === 'convert' || c.op === 'loadModel' ? base * 3 : base;
}

async function runCase(child: FuzzChild, c: FuzzCase, seeds: Seeds, dir: string, args: Args): Promise<CaseRecord> {
  const limit = args.memoryLimitMb * 2 ** 20;
  if (!child.alive || child.casesRun >= args.recycle) { child.kill(); await child.start(); }
  const job = materialize(c, seeds, dir);
  const t0 = performance.now();
  const o = await child.run(job, timeLimitFor(c, args.timeLimitMs));
  const r = record(c, o, performance.now() - t0, limit);
  // A peak over the limit stays in the child's maxRSS: start a fresh one.
  if (r.cls === 'memory' || o.kind !== 'result') child.kill();
  return r;
}

interface TargetStats { target: Target; records: CaseRecord[]; seconds: number }

async function fuzzTarget(target: Target, seeds: Seeds, args: Args, work: string, seen: Map<string, CaseRecord[]>): Promise<TargetStats> {
  const t0 = performance.now();
  const records: CaseRecord[] = [];
  let next = 0;
  const step = Math.max(1, Math.round(args.cases / 10));
  const progress = () => {
    const n = records.length;
    const count = (cls: string) => records.filter((r) => r.cls === cls).length;
    const f = ['untyped', 'timeout', 'memory', 'crash'].map((k) => `${k} ${count(k)}`).join(', ');
    console.log(`[${target}] ${n}/${args.cases}  ok ${count('ok')}  typed ${count('typed')}  findings: ${f}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  };
  const runner = async (k: number) => {
    const child = new FuzzChild(target === 'image', args.memoryLimitMb * 2 ** 20);
    try {
      while (next < args.cases) {
        const i = next++;
        const c = makeCase(seeds, target, args.seed, i);
        const r = await runCase(child, c, seeds, join(work, `job${k}`), args);
        records.push(r);
        if (args.verbose) console.log(`  ${r.id} ${r.op} ${r.cls}${r.code ? ` ${r.code}` : ''} ${r.ms} ms: ${(r.message ?? '').slice(0, 140)}\n      <- ${r.what.slice(0, 140)}`);
        if (r.cls !== 'ok' && r.cls !== 'typed') {
          saveFinding(args.out, c, r, args);
          const key = dedupKey(r);
          const list = seen.get(key) ?? [];
          if (!list.length) console.log(`  ! new finding [${r.cls}] ${r.id} (${r.op}): ${r.name}: ${r.message?.slice(0, 160)}${r.frame ? ` — ${r.frame}` : ''}\n      mutation: ${r.what.slice(0, 160)}`);
          list.push(r);
          seen.set(key, list);
        }
        if (records.length % step === 0) progress();
      }
    } finally {
      child.stop();
    }
  };
  await Promise.all(Array.from({ length: args.jobs }, (_, k) => runner(k)));
  if (records.length % step !== 0) progress();
  records.sort((a, b) => a.index - b.index);
  return { target, records, seconds: (performance.now() - t0) / 1000 };
}

async function checkSeeds(seeds: Seeds, args: Args, work: string, targets: Target[]): Promise<void> {
  const child = new FuzzChild(false, args.memoryLimitMb * 2 ** 20);
  const results: string[] = [];
  for (const c of seedCases(seeds).filter((s) => targets.includes(s.target))) {
    const r = await runCase(child, c, seeds, join(work, 'seeds'), { ...args, timeLimitMs: Math.max(args.timeLimitMs, 30_000) });
    results.push(`${c.seed} ${c.op}: ${r.cls === 'ok' ? 'ok' : `${r.cls} ${r.name}: ${r.message}`}`);
    if (r.cls !== 'ok') console.log(`  warning: the unmutated seed ${c.seed} (${c.op}) is not ok: ${r.name}: ${r.message}`);
  }
  child.stop();
  console.log(`seed check: ${results.filter((r) => r.endsWith(': ok')).length}/${results.length} seeds ok`);
}

function summarize(stats: TargetStats[], seen: Map<string, CaseRecord[]>, args: Args): void {
  const cols = ['cases', 'ok', 'typed', 'untyped', 'timeout', 'memory', 'crash'];
  console.log(`\nfuzz summary (seed ${args.seed}, ${args.cases} cases per target, limits ${args.timeLimitMs} ms / ${args.memoryLimitMb} MB)`);
  console.log(`${'target'.padEnd(12)}${cols.map((c) => c.padStart(9)).join('')}${'seconds'.padStart(9)}`);
  const summary: Record<string, unknown> = {};
  for (const s of stats) {
    const count = (cls: string) => s.records.filter((r) => r.cls === cls).length;
    const row = [s.records.length, count('ok'), count('typed'), count('untyped'), count('timeout'), count('memory'), count('crash')];
    console.log(`${s.target.padEnd(12)}${row.map((n) => String(n).padStart(9)).join('')}${s.seconds.toFixed(0).padStart(9)}`);
    const codes = new Map<string, number>();
    for (const r of s.records) if (r.cls === 'typed') codes.set(r.code!, (codes.get(r.code!) ?? 0) + 1);
    const codeText = [...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    console.log(`${''.padEnd(12)}typed errors by code: ${codeText || 'none'}`);
    const ops = new Map<string, number>();
    for (const r of s.records) ops.set(r.op, (ops.get(r.op) ?? 0) + 1);
    console.log(`${''.padEnd(12)}operations: ${[...ops].map(([o, n]) => `${o} ${n}`).join(', ')}`);
    summary[s.target] = { cases: row[0], ok: row[1], typed: Object.fromEntries(codes), untyped: row[3], timeout: row[4], memory: row[5], crash: row[6], seconds: Math.round(s.seconds) };
  }
  const distinct = [...seen.values()].sort((a, b) => b.length - a.length);
  console.log(`\ndistinct findings: ${distinct.length}`);
  distinct.forEach((list, i) => {
    const r = list[0];
    const ort = /onnxruntime|ort\b|InferenceSession/i.test(`${r.message} ${r.stack ?? ''}`) ? ' [onnxruntime]' : '';
    console.log(`${String(i + 1).padStart(3)}. [${r.cls}]${ort} x${list.length} ${r.target}/${r.op}${r.stage && r.stage !== r.op ? `/${r.stage}` : ''}: ${r.name}: ${r.message?.slice(0, 200)}`);
    if (r.frame) console.log(`       ${r.frame}`);
    console.log(`       e.g. ${list.slice(0, 4).map((x) => x.id).join(', ')} — mutation: ${r.what.slice(0, 140)}`);
  });
  console.log(`\nfindings saved under ${args.out} (replay: node dist/bench/fuzz.js --replay <file>)`);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(join(dirname(args.out), 'summary.json'), `${JSON.stringify({
    seed: args.seed, cases: args.cases, limits: { timeLimitMs: args.timeLimitMs, memoryLimitMb: args.memoryLimitMb }, targets: summary,
    findings: distinct.map((list) => ({ count: list.length, class: list[0].cls, target: list[0].target, op: list[0].op, stage: list[0].stage, name: list[0].name, message: list[0].message, frame: list[0].frame, examples: list.slice(0, 10).map((x) => x.id), mutation: list[0].what })),
  }, null, 2)}\n`);
}

async function replay(file: string, args: Args): Promise<void> {
  const dir = dirname(file);
  const id = /^([a-z]+-\d+)\./.exec(basename(file))?.[1];
  if (!id) throw new Error(`${file}: not a finding file (<target>-<n>.*)`);
  const note = JSON.parse(readFileSync(join(dir, `${id}.note.json`), 'utf8')) as {
    target: Target; index: number; op: FuzzCase['op']; seedInput: string; mutation: string; input?: FuzzCase['input']; pixels?: unknown; options?: unknown;
    files: Record<string, string>; outcome: { class: string; message?: string };
  };
  const files = Object.fromEntries(Object.entries(note.files).map(([name, f]) => [name, new Uint8Array(readFileSync(join(dir, f)))]));
  const c: FuzzCase = {
    target: note.target, index: note.index, op: note.op, seed: note.seedInput, what: note.mutation, files, input: note.input,
    pixels: decodeSpecial(note.pixels) as FuzzCase['pixels'], options: decodeSpecial(note.options) as FuzzCase['options'],
  };
  console.log(`replaying ${id}: ${c.op} of a mutated ${c.seed} (${c.what})\nrecorded: [${note.outcome.class}] ${note.outcome.message ?? ''}`);
  const seeds = await loadSeeds(root);
  const work = join(tmpdir(), `resdet-fuzz-replay-${process.pid}`);
  const child = new FuzzChild(c.target === 'image', args.memoryLimitMb * 2 ** 20);
  try {
    const r = await runCase(child, c, seeds, work, args);
    console.log(`now:      [${r.cls}] ${r.name ?? ''}${r.code ? ` (${r.code})` : ''}: ${r.message ?? ''}  (${r.ms} ms, peak RSS ${r.maxRssMb ?? r.rssMb ?? '?'} MB)`);
    if (r.stack) console.log(r.stack);
  } finally {
    child.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay) return replay(args.replay, args);
  if (!existsSync(workerPath)) throw new Error(`${workerPath} is missing: run npm run build`);
  const t0 = performance.now();
  const seeds = await loadSeeds(root);
  console.log(`resdet fuzz: seed ${args.seed}, ${args.cases} cases per target (${args.targets.join(', ')}), ${args.jobs} jobs, limits ${args.timeLimitMs} ms / ${args.memoryLimitMb} MB`);
  console.log(`seeds: torch zip ${seeds.zip.length} B (${seeds.zipParsed.entries.length} entries), legacy ${seeds.legacy.bytes.length} B, safetensors ${seeds.safetensors.length} B, package ${seeds.packageFiles.size} files, ${seeds.images.length} images (${seeds.images.map((s) => s.name).join(', ')})`);
  rmSync(args.out, { recursive: true, force: true });
  const work = join(tmpdir(), `resdet-fuzz-${process.pid}`);
  try {
    await checkSeeds(seeds, args, work, args.targets);
    const seen = new Map<string, CaseRecord[]>();
    const stats: TargetStats[] = [];
    for (const target of args.targets) stats.push(await fuzzTarget(target, seeds, args, work, seen));
    summarize(stats, seen, args);
    console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
