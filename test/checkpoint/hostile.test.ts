/**
 * Hostile checkpoints cost what they hold: tiny files that ask for gigabytes (stride-0 and
 * overlapping views, zip bombs, aliased zip records, overlapping safetensors ranges, pickled
 * object floods) and odd pickles (deep nesting, self-reference, bigints, 2^32-element tensors)
 * are each refused with a CheckpointError naming the file and what asked; each group of cases
 * runs in a child Node process whose peak RSS must stay under 1 GB and which must finish in 20 s.
 * Legitimate files cut short at every byte fail the same way, and tied storages stay one copy.
 */
import { expect } from 'chai';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, loadCheckpoint, loadCheckpointBuffer } from '../../src/checkpoint/index.js';
import { type ChildResult, runInChild } from '../helpers/child.js';
import { repoRoot } from '../helpers/reference.js';
import { type HostileCase, writeHostileCorpus } from './hostileCorpus.js';

const MAX_RSS_MIB = 1024;
const TIME_LIMIT_MS = 20_000;

/** What the child reports for one case. */
interface Outcome {
  name: string;
  outcome: 'loaded' | 'error';
  isCheckpointError?: boolean;
  code?: string;
  message?: string;
  file?: string;
  prefixes?: number;
  bad?: string[];
  ms: number;
  rssMiB: number;
}

/**
 * The child: loads each case of the manifest and prints one JSON line per case. Garbage is
 * collected between cases, so that each case's peak is its own, not the sum of its
 * predecessors' uncollected garbage.
 */
const childCode = `
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
import { CheckpointError, loadCheckpoint, loadCheckpointBuffer } from '${repoRoot}/dist/src/checkpoint/index.js';
const cases = JSON.parse(readFileSync(process.env.HOSTILE_MANIFEST, 'utf8'));
const describe = (e) => ({ outcome: 'error', isCheckpointError: e instanceof CheckpointError, code: e?.code,
  message: String(e?.message).slice(0, 1000), file: e?.file, stack: e instanceof CheckpointError ? undefined : String(e?.stack).slice(0, 1000) });
for (const c of cases) {
  gc();
  const t0 = performance.now();
  let r;
  if (c.everyPrefix) {
    const bytes = readFileSync(c.file);
    const bad = [];
    for (let cut = 0; cut < bytes.length; cut++) {
      const name = c.file + '[:' + cut + ']';
      try { await loadCheckpointBuffer(bytes.subarray(0, cut), name); bad.push(cut + ': loaded'); }
      catch (e) { if (!(e instanceof CheckpointError) || e.code !== 'CHECKPOINT' || !e.message.startsWith(name + ': ')) bad.push(cut + ': ' + String(e?.stack ?? e).slice(0, 300)); }
    }
    r = { outcome: 'error', prefixes: bytes.length, bad: bad.slice(0, 5) };
  } else if (c.mutants) {
    const original = readFileSync(c.file);
    let seed = 12345;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const bad = [];
    for (let i = 0; i < c.mutants; i++) {
      const bytes = Buffer.from(original);
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try { await loadCheckpointBuffer(bytes, 'mutant-' + i); }
      catch (e) { if (!(e instanceof CheckpointError) || !e.message.startsWith('mutant-' + i + ': ')) bad.push(i + ': ' + String(e?.stack ?? e).slice(0, 300)); }
    }
    r = { outcome: 'error', prefixes: c.mutants, bad: bad.slice(0, 5) };
  } else {
    try { const sd = await loadCheckpoint(c.file, c.options); r = { outcome: 'loaded', tensors: sd.size }; }
    catch (e) { r = describe(e); }
  }
  console.log(JSON.stringify({ name: c.name, ...r, ms: performance.now() - t0, rssMiB: process.memoryUsage().rss / 2 ** 20 }));
}
`;

const dir = join(tmpdir(), `resdet-hostile-${process.pid}`);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let corpus: HostileCase[] | null = null;
function hostileCases(): HostileCase[] {
  corpus ??= writeHostileCorpus(dir);
  return corpus;
}

/** Runs one group's cases in a child and returns its result and each case's outcome. */
function runGroup(group: string): { child: ChildResult; outcomes: Map<string, Outcome> } {
  const cases = hostileCases().filter((c) => c.group === group);
  const manifest = join(dir, `${group}.json`);
  writeFileSync(manifest, JSON.stringify(cases));
  const child = runInChild(childCode, TIME_LIMIT_MS, { HOSTILE_MANIFEST: manifest });
  const outcomes = new Map<string, Outcome>();
  for (const line of child.stdout.split('\n')) {
    if (line.startsWith('{')) { const o = JSON.parse(line) as Outcome; outcomes.set(o.name, o); }
  }
  return { child, outcomes };
}

const groups: [string, string][] = [
  ['views', 'stride-0, overlapping and 2^32-element views, in the zip and legacy formats'],
  ['option', 'a 300 MB expansion: refused by default, loaded when maxMaterializedBytes allows it'],
  ['zip', 'zip bombs, lying sizes and offsets, aliased and overlapping records'],
  ['safetensors', 'overlapping, out-of-range and huge safetensors entries'],
  ['pickle', 'deep, self-referential and bigint pickles'],
  ['floods', 'pickles that flood the heap with objects from few bytes'],
  ['legit', 'legitimate tied-storage files'],
  ['prefix', 'legitimate files cut short at every byte, or with random bytes changed'],
];

for (const [group, title] of groups) {
  describe(`checkpoint, hostile input: ${title}`, function () {
    this.timeout(60_000);
    let run: ReturnType<typeof runGroup>;
    before(function () { run = runGroup(group); });

    it(`the child stays under ${MAX_RSS_MIB} MiB of peak RSS and ${TIME_LIMIT_MS / 1000} s`, function () {
      const { child } = run;
      expect(child.timedOut, `timed out; stderr: ${child.stderr.slice(-2000)}`).to.equal(false);
      expect(child.status, `child failed: ${child.stderr.slice(-2000)}`).to.equal(0);
      expect(child.maxRssMiB, 'peak RSS (MiB)').to.be.below(MAX_RSS_MIB);
    });

    for (const c of hostileCases().filter((x) => x.group === group)) {
      const what = c.everyPrefix ? 'every prefix is a CheckpointError naming it'
        : c.mutants ? `${c.mutants} copies with random bytes changed each load or are a CheckpointError naming them`
          : c.expect === null ? 'loads' : `is refused: "${c.expect}"`;
      it(`${c.name}: ${what}`, function () {
        const o = run.outcomes.get(c.name);
        expect(o, `no outcome (child status ${run.child.status}): ${run.child.stderr.slice(-2000)}`).to.not.equal(undefined);
        if (c.everyPrefix || c.mutants) {
          expect(o!.bad, `${o!.prefixes} prefixes`).to.deep.equal([]);
          expect(o!.prefixes).to.be.above(100);
        } else if (c.expect === null) {
          expect(o!.outcome, o!.message).to.equal('loaded');
        } else {
          expect(o!.outcome, 'must not load').to.equal('error');
          expect(o!.isCheckpointError, `not a CheckpointError: ${o!.message}\n${(o as { stack?: string }).stack ?? ''}`).to.equal(true);
          expect(o!.code).to.equal('CHECKPOINT');
          expect(o!.file).to.equal(c.file);
          expect(o!.message!.startsWith(`${c.file}: `), o!.message).to.equal(true);
          expect(o!.message).to.include(c.expect);
        }
      });
    }
  });
}

describe('checkpoint, hostile input: what must still work', function () {
  it('an unforeseen internal error still becomes a CheckpointError naming the file, with the original as its cause', async function () {
    const failing = new Uint8Array(16);
    Object.defineProperty(failing, 'subarray', { value: () => { throw new TypeError('boom'); } });
    try {
      await loadCheckpointBuffer(failing, 'failing.pth');
      expect.fail('loaded');
    } catch (e) {
      expect(e).to.be.instanceOf(CheckpointError);
      expect((e as CheckpointError).code).to.equal('CHECKPOINT');
      expect((e as CheckpointError).message).to.equal('failing.pth: unreadable checkpoint (internal: TypeError: boom)');
      expect((e as Error).cause).to.be.instanceOf(TypeError);
    }
  });

  it('tensors viewing one storage (offset, reshaped, transposed) load with the right values and share one copy, zip and legacy, file and Buffer', async function () {
    const cases = hostileCases();
    for (const name of ['tied-zip.pth', 'tied-legacy.pth']) {
      const { file } = cases.find((c) => c.name === name)!;
      for (const sd of [await loadCheckpoint(file), await loadCheckpointBuffer(readFileSync(file), name)]) {
        const full = sd.get('full')!.data as Float32Array;
        expect([...full]).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
        expect([...(sd.get('a')!.data as Float32Array)], `${name} a`).to.deep.equal([2, 3, 4]);
        expect([...(sd.get('b')!.data as Float32Array)], `${name} b`).to.deep.equal(Array.from({ length: 15 }, (_, i) => i + 5));
        expect([...(sd.get('expanded')!.data as Float32Array)], `${name} expanded`).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        const t = [...(sd.get('t')!.data as Float32Array)];
        expect(t, `${name} transposed`).to.deep.equal(Array.from({ length: 20 }, (_, k) => Math.floor(k / 4) + 5 * (k % 4)));
        for (const key of ['a', 'b']) {
          expect(sd.get(key)!.data.buffer, `${name}: '${key}' shares the storage's memory`).to.equal(full.buffer);
        }
      }
    }
  });
});
