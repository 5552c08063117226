import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { writeDataset } from '../../src/annotate/dataset.js';
import { AnnotateError } from '../../src/annotate/errors.js';
import { inputDigest, runFingerprint } from '../../src/annotate/identity.js';
import { encodeRecord, JOURNAL_FILE, type NewJournalHeader, openJournal, readJournal } from '../../src/annotate/journal.js';
import { mergeShards } from '../../src/annotate/merge.js';
import { inShard, type Shard } from '../../src/annotate/shard.js';
import type { Category, ImageRecord, InputImage } from '../../src/annotate/types.js';
import { repoRoot } from '../helpers/reference.js';

const model = { manifestSha256: 'a'.repeat(64), files: [{ role: 'backbone', path: 'backbone.onnx', bytes: 1000 }] };
const categories: Category[] = [{ id: 1, name: 'circle', supercategory: 'object' }, { id: 2, name: 'square', supercategory: 'object' }];
const COUNT = 10;
const inputs: InputImage[] = Array.from({ length: COUNT }, (_, index) => ({ index, id: index + 1, fileName: `dir/img${index}.png`, path: `/data/dir/img${index}.png` }));

/** A made-up record per image: every fourth failed, the others with one or two objects. */
function record(input: InputImage): ImageRecord {
  const { index, id, fileName } = input;
  if (index % 4 === 3) return { kind: 'failed', index, id, fileName, bytes: 0, code: 'IMAGE_DECODE', error: `${fileName}: empty file` };
  const objects = Array.from({ length: 1 + (index % 2) }, (_, j) => ({
    bbox: [j, index, 4, 5] as [number, number, number, number], score: 0.9 - j / 10, categoryId: 1 + j, area: 20,
    rle: { size: [16, 16] as [number, number], counts: 'P4' },
    polygons: [[j, index, j + 4, index, j + 4, index + 5, j, index + 5]],
  }));
  return { kind: 'done', index, id, fileName, bytes: 1000 + index, width: 16, height: 16, objects };
}

function header(shard: Shard, options: Record<string, unknown> = { score: 0.5 }, list: readonly InputImage[] = inputs): NewJournalHeader {
  return {
    fingerprint: runFingerprint({ model, options }), inputDigest: inputDigest(list), inputCount: list.length,
    shard, model, options, categories,
  };
}

/** What a folder holds, file by file (to prove that shard folders are never changed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex') + ` ${statSync(p).mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

/** instances.json and failures.json, less the info block (which may hold a date). */
function dataset(dir: string): unknown {
  const { info: _info, ...instances } = JSON.parse(readFileSync(join(dir, 'instances.json'), 'utf8')) as Record<string, unknown>;
  return { instances, failures: JSON.parse(readFileSync(join(dir, 'failures.json'), 'utf8')) };
}

async function refusal(p: Promise<unknown>): Promise<AnnotateError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'refused').to.be.instanceOf(AnnotateError);
  return e as AnnotateError;
}

describe('resdet merge: shard folders joined into one dataset', () => {
  let work: string;
  let warnings: string[];
  const warn = (m: string) => warnings.push(m);

  /** Writes shard k/n's journal into <work>/<name>, with `edit` applied to its records. */
  async function shardFolder(name: string, shard: Shard, opts: { options?: Record<string, unknown>; list?: InputImage[]; skip?: number[]; edit?: (r: ImageRecord) => ImageRecord } = {}): Promise<string> {
    const folder = join(work, name);
    const list = opts.list ?? inputs;
    const journal = await openJournal(join(folder, JOURNAL_FILE), header(shard, opts.options, list));
    for (const input of list) {
      if (inShard(input.index, shard) && !opts.skip?.includes(input.index)) journal.append((opts.edit ?? ((r) => r))(record(input)));
    }
    await journal.close();
    return folder;
  }

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'resdet-merge-'));
    warnings = [];
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('merges 3 shards into what writeDataset makes of the union, with a merged journal, leaving the shards unchanged', async () => {
    const folders = [await shardFolder('s3', { k: 3, n: 3 }), await shardFolder('s1', { k: 1, n: 3 }), await shardFolder('s2', { k: 2, n: 3 })];
    const before = folders.map(snapshot);
    const out = join(work, 'merged');
    const summary = await mergeShards(folders, { out, warn });
    expect(folders.map(snapshot)).to.deep.equal(before);
    expect(summary).to.include({ folders: 3, images: 8, failed: 2, missingImages: 0 });
    expect(summary.missingShards).to.deep.equal([]);
    const expected = join(work, 'expected');
    mkdirSync(expected);
    const union = inputs.map(record);
    const written = await writeDataset(expected, union, { categories, formats: ['coco'], polygons: false });
    expect(summary.annotations).to.equal(written.annotations);
    expect(dataset(out)).to.deep.equal(dataset(expected));
    const journal = readJournal(join(out, JOURNAL_FILE));
    expect(journal.header.shard).to.deep.equal({ k: 1, n: 1 });
    expect(journal.header.inputDigest).to.equal(inputDigest(inputs));
    expect([...journal.records.values()]).to.deep.equal(union);
    expect(warnings).to.deep.equal([]);

    // The merged folder is itself a whole run: it merges again, and a re-merge replaces it.
    const again = join(work, 'again');
    await mergeShards([out], { out: again, warn });
    expect(dataset(again)).to.deep.equal(dataset(expected));
    await mergeShards(folders, { out, warn });
    expect(dataset(out)).to.deep.equal(dataset(expected));
  });

  it('writes YOLO and Label Studio as writeDataset does for the union, and refuses them for shards made without polygons', async () => {
    const options = { score: 0.5, polygons: true };
    const folders = [await shardFolder('s1', { k: 1, n: 2 }, { options }), await shardFolder('s2', { k: 2, n: 2 }, { options })];
    const out = join(work, 'merged');
    const summary = await mergeShards(folders, { out, formats: ['yolo', 'labelstudio'], polygons: true, warn });
    const expected = join(work, 'expected');
    mkdirSync(expected);
    const written = await writeDataset(expected, inputs.map(record), { categories, formats: ['coco', 'yolo', 'labelstudio'], polygons: true });
    expect(summary.files).to.deep.equal([JOURNAL_FILE, ...written.files]);
    expect(dataset(out)).to.deep.equal(dataset(expected));
    expect(JSON.parse(readFileSync(join(out, 'instances.json'), 'utf8')).info).to.deep.equal({ description: 'resdet merge of shards 1/2, 2/2', shard: null });
    for (const file of written.files.filter((f) => f !== 'instances.json')) {
      expect(readFileSync(join(out, file), 'utf8'), file).to.equal(readFileSync(join(expected, file), 'utf8'));
    }
    const flat = [await shardFolder('f1', { k: 1, n: 1 }, { options: { score: 0.5, polygons: false } })];
    const e = await refusal(mergeShards(flat, { out: join(work, 'o'), formats: ['yolo'], warn }));
    expect(e.message).to.match(/f1 was annotated without polygons, which --polygons, --format yolo and --format labelstudio need/);
  });

  it('accepts the same shard twice when its records agree, and refuses records that conflict', async () => {
    const s1 = await shardFolder('s1', { k: 1, n: 2 });
    const s2 = await shardFolder('s2', { k: 2, n: 2 });
    const copy = join(work, 's1-copy');
    cpSync(s1, copy, { recursive: true });
    await mergeShards([s1, s2, copy], { out: join(work, 'out'), warn });
    const changed = await shardFolder('s1-changed', { k: 1, n: 2 }, { edit: (r) => (r.index === 4 ? { ...r, bytes: 1 } : r) });
    const e = await refusal(mergeShards([s1, s2, changed], { out: join(work, 'out2'), warn }));
    expect(e.code).to.equal('ANNOTATE_MERGE');
    expect(e.message).to.equal(`${s1} and ${changed} record 'dir/img4.png' differently; merge only one of them`);
  });

  it('refuses shards of other options, naming both folders and the option', async () => {
    const s1 = await shardFolder('s1', { k: 1, n: 2 });
    const s2 = await shardFolder('s2', { k: 2, n: 2 }, { options: { score: 0.7 } });
    const e = await refusal(mergeShards([s1, s2], { out: join(work, 'out'), warn }));
    expect(e.code).to.equal('ANNOTATE_MISMATCH');
    expect(e.message).to.equal(`${s2} was made with other options (score 0.5 -> 0.7) than ${s1}; shards to merge must come from one resdet annotate command run with different --shard`);
  });

  it('refuses shards of another input list, or of another N', async () => {
    const s1 = await shardFolder('s1', { k: 1, n: 2 });
    const renamed = inputs.map((i) => (i.index === 5 ? { ...i, fileName: 'other.png' } : i));
    const s2 = await shardFolder('s2', { k: 2, n: 2 }, { list: renamed });
    expect((await refusal(mergeShards([s1, s2], { out: join(work, 'o1'), warn }))).message).to.match(/s2 was made from another input list than .*s1 \(the same 10 images, other names or ids\)/);
    const t2 = await shardFolder('t2', { k: 2, n: 3 });
    expect((await refusal(mergeShards([s1, t2], { out: join(work, 'o2'), warn }))).message).to.match(/s1 is shard 1\/2 and .*t2 shard 2\/3; shards to merge must share N/);
  });

  it('refuses missing or unfinished shards unless partial, listing what is missing', async () => {
    const s1 = await shardFolder('s1', { k: 1, n: 3 });
    const s3 = await shardFolder('s3', { k: 3, n: 3 }, { skip: [5] });
    const e = await refusal(mergeShards([s1, s3], { out: join(work, 'out'), warn }));
    expect(e.message).to.equal(`the shards do not cover the input: shard(s) 2/3 not given; shard 3/3 (${s3}) has 2 of 3 images; finish them (rerun the same resdet annotate command) or pass --partial to merge what there is`);
    const summary = await mergeShards([s1, s3], { out: join(work, 'out'), warn, partial: true });
    expect(summary.missingShards).to.deep.equal([2]);
    expect(summary.missingImages).to.equal(4);
    expect(warnings).to.have.length(1);
    const merged = readJournal(join(work, 'out', JOURNAL_FILE));
    expect([...merged.records.values()].map((r) => r.index)).to.deep.equal([0, 2, 3, 6, 8, 9]);
  });

  it('refuses an --out that is a shard folder, or that holds another run\'s journal', async () => {
    const s1 = await shardFolder('s1', { k: 1, n: 1 });
    expect((await refusal(mergeShards([s1], { out: join(work, 'x', '..', 's1'), warn }))).message).to.match(/is the shard folder .*s1; merge into another folder/);
    const other = await shardFolder('other', { k: 1, n: 1 }, { options: { score: 0.1 } });
    expect((await refusal(mergeShards([s1], { out: other, warn }))).message).to.match(/already holds the journal of another run/);
  });

  it('refuses a record outside its shard, and a complete merge whose records are not of its input list', async () => {
    const s1 = await shardFolder('s1', { k: 1, n: 2 });
    const s2 = await shardFolder('s2', { k: 2, n: 2 });
    appendFileSync(join(s2, JOURNAL_FILE), encodeRecord({ ...record(inputs[2]), fileName: 'stray.png' }));
    expect((await refusal(mergeShards([s1, s2], { out: join(work, 'o1'), warn }))).message).to.match(/the record of 'stray\.png' has index 2, outside shard 2\/2 of 10 images/);
    const s2b = await shardFolder('s2b', { k: 2, n: 2 }, { edit: (r) => (r.index === 3 ? { ...r, fileName: 'renamed.png' } : r) });
    expect((await refusal(mergeShards([s1, s2b], { out: join(work, 'o2'), warn }))).message).to.match(/do not match their input list/);
    expect(existsSync(join(work, 'o2', JOURNAL_FILE))).to.equal(false);
  });

  it('resdet merge on the command line: usage errors exit 2, a merge prints its summary', async () => {
    const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const run = (args: string[]) => spawnSync(process.execPath, [main, 'merge', ...args], { encoding: 'utf8' });
    const s1 = await shardFolder('s1', { k: 1, n: 1 });
    expect(run([s1]).status).to.equal(2);
    const bad = run([s1, '--out', join(work, 'o'), '--format', 'voc']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.include("--format 'voc' is not one of coco, yolo, labelstudio");
    const ok = run([s1, '--out', join(work, 'o')]);
    expect(ok.stderr).to.equal('');
    expect(ok.status).to.equal(0);
    expect(ok.stdout).to.match(/merged 1 shard folder\(s\): 8 images, \d+ annotations, 2 failed \(listed in failures\.json\) -> /);
    const refused = run([s1, '--out', s1]);
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.match(/^resdet merge: --out .* is the shard folder/);
  });
});
