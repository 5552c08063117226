/**
 * `resdet merge`: joins the output folders of `resdet annotate --shard K/N` runs into one dataset,
 * with the global ids the shards already carry. The shard folders are only read (their journals);
 * everything is written into --out: the dataset (writeDataset) and a merged journal, which is the
 * journal an unsharded run would have (shard 1/1), so a merged folder can be merged again,
 * inspected, or resumed by `resdet annotate` without --shard (after a --partial merge).
 *
 * What is refused (AnnotateError), each naming the folders at fault:
 * - shards of another model or options (fingerprint), of another input list (digest or count), or
 *   of another N (ANNOTATE_MISMATCH);
 * - records that conflict: one image recorded differently in two folders, one index or id given
 *   to two images (ANNOTATE_MERGE); the same shard given twice is fine when its records agree;
 * - missing shards or shards that are not finished, unless `partial` (then a warning);
 * - a complete merge whose records do not hash to the shards' input digest (a journal holding
 *   records of an earlier input list);
 * - an --out that is one of the shard folders, or that holds another run's journal.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Lock, releaseLock } from '../download/lock.js';
import { writeFileAtomic } from '../cli/files.js';
import { writeDataset } from './dataset.js';
import { AnnotateError } from './errors.js';
import { canonicalJson, describeDifference, inputDigest } from './identity.js';
import {
  encodeRecord, JOURNAL_FILE, type JournalContents, type JournalHeader, LOCK_FILE, lockOutput, readJournal,
} from './journal.js';
import { formatShard, inShard, shardSize, WHOLE_INPUT } from './shard.js';
import type { ImageRecord, OutputFormat } from './types.js';

export interface MergeOptions {
  /** The folder the merged dataset is written to (created if missing). */
  out: string;
  /** Formats besides COCO instances.json, which is always written. */
  formats?: readonly OutputFormat[];
  /** COCO segmentation as polygons instead of RLE. */
  polygons?: boolean;
  /** Merge even when shards are missing or unfinished (with a warning). */
  partial?: boolean;
  /** Told of what is merged despite a doubt (default: console.warn). */
  warn?: (message: string) => void;
}

export interface MergeSummary {
  /** Shard folders read. */
  folders: number;
  images: number;
  annotations: number;
  failed: number;
  /** The Ks of the shards that were not given (empty when all were). */
  missingShards: number[];
  /** Images of the input that no shard recorded. */
  missingImages: number;
  /** Files written into --out, '/'-separated and relative to it. */
  files: string[];
}

interface Shard {
  folder: string;
  journal: JournalContents & { header: JournalHeader };
}

const fileKey = (path: string) => {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : undefined;
};

/** Whether a live process holds the folder's lock (only a warning: the pid may be of another host). */
function lockHolder(folder: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(folder, LOCK_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

function readShards(folders: readonly string[], warn: (m: string) => void): Shard[] {
  return folders.map((folder) => {
    const journal = readJournal(join(folder, JOURNAL_FILE));
    const pid = lockHolder(folder);
    if (pid !== undefined) warn(`${folder}: annotate.lock is held by pid ${pid}; that shard may still be running, merging what its journal holds now`);
    if (journal.corruptRecords > 0) warn(`${folder}: ${journal.corruptRecords} corrupt journal record(s) skipped; those images count as not done`);
    return { folder, journal };
  });
}

/** Refuses shards that are not of one run: same fingerprint, input list and N. */
function checkSameRun(shards: readonly Shard[]): void {
  const [first] = shards;
  const a = first.journal.header;
  for (const other of shards.slice(1)) {
    const b = other.journal.header;
    if (a.fingerprint !== b.fingerprint) {
      const differs = describeDifference(a, b) ?? 'another run identity (fingerprint)';
      throw new AnnotateError('ANNOTATE_MISMATCH', `${other.folder} was made with ${differs} than ${first.folder}; shards to merge must come from one resdet annotate command run with different --shard`);
    }
    if (a.inputDigest !== b.inputDigest || a.inputCount !== b.inputCount) {
      const counts = a.inputCount === b.inputCount ? `the same ${a.inputCount} images, other names or ids` : `${b.inputCount} vs ${a.inputCount} images`;
      throw new AnnotateError('ANNOTATE_MISMATCH', `${other.folder} was made from another input list than ${first.folder} (${counts}); every shard must be given the same inputs`);
    }
    if (a.shard.n !== b.shard.n) {
      throw new AnnotateError('ANNOTATE_MISMATCH', `${first.folder} is shard ${formatShard(a.shard)} and ${other.folder} shard ${formatShard(b.shard)}; shards to merge must share N`);
    }
  }
}

/** The union of the shards' records, refusing conflicts; sorted by index. */
function unionRecords(shards: readonly Shard[]): ImageRecord[] {
  const byName = new Map<string, { record: ImageRecord; folder: string; text: string }>();
  const byIndex = new Map<number, { fileName: string; folder: string }>();
  const byId = new Map<number, { fileName: string; folder: string }>();
  for (const { folder, journal } of shards) {
    const { shard, inputCount } = journal.header;
    for (const record of journal.records.values()) {
      const name = `'${record.fileName}'`;
      if (record.index >= inputCount || !inShard(record.index, shard)) {
        throw new AnnotateError('ANNOTATE_MERGE', `${folder}: the record of ${name} has index ${record.index}, outside shard ${formatShard(shard)} of ${inputCount} images (a record of an earlier input list?); rerun resdet annotate on that shard`);
      }
      const text = canonicalJson(record);
      const seen = byName.get(record.fileName);
      if (seen) {
        if (seen.text !== text) throw new AnnotateError('ANNOTATE_MERGE', `${seen.folder} and ${folder} record ${name} differently; merge only one of them`);
        continue;
      }
      for (const [map, key, what] of [[byIndex, record.index, 'index'], [byId, record.id, 'id']] as const) {
        const other = map.get(key);
        if (other) throw new AnnotateError('ANNOTATE_MERGE', `image ${what} ${key} is '${other.fileName}' in ${other.folder} but ${name} in ${folder}; these shards are not of one input list`);
        map.set(key, { fileName: record.fileName, folder });
      }
      byName.set(record.fileName, { record, folder, text });
    }
  }
  return [...byName.values()].map((v) => v.record).sort((x, y) => x.index - y.index);
}

/** What is missing: shards not given, and images that the given shards did not record. */
function coverage(shards: readonly Shard[], records: readonly ImageRecord[]): { missingShards: number[]; problems: string[]; missingImages: number } {
  const { n } = shards[0].journal.header.shard;
  const count = shards[0].journal.header.inputCount;
  const given = new Map<number, string>();
  for (const s of shards) given.set(s.journal.header.shard.k, s.folder);
  const missingShards = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !given.has(k));
  const problems: string[] = [];
  if (missingShards.length > 0) problems.push(`shard(s) ${missingShards.map((k) => `${k}/${n}`).join(', ')} not given`);
  const have = new Map<number, number>();
  for (const r of records) have.set((r.index % n) + 1, (have.get((r.index % n) + 1) ?? 0) + 1);
  for (const [k, folder] of [...given].sort((x, y) => x[0] - y[0])) {
    const expected = shardSize(count, { k, n });
    if ((have.get(k) ?? 0) < expected) problems.push(`shard ${k}/${n} (${folder}) has ${have.get(k) ?? 0} of ${expected} images`);
  }
  return { missingShards, problems, missingImages: count - records.length };
}

/** Refuses an --out that is a shard folder, and takes its lock. */
async function prepareOut(out: string, shards: readonly Shard[]): Promise<Lock> {
  const outKey = fileKey(out);
  const same = shards.find((s) => outKey !== undefined && fileKey(s.folder) === outKey);
  if (same) throw new AnnotateError('ANNOTATE_MERGE', `--out ${out} is the shard folder ${same.folder}; merge into another folder (shard folders are never changed)`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new AnnotateError('ANNOTATE_MERGE', `--out ${out}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  if (!statSync(out).isDirectory()) throw new AnnotateError('ANNOTATE_MERGE', `--out ${out} is a file, not a folder`);
  return lockOutput(out);
}

/** Refuses to replace the journal of another run in --out (a merge of the same run is replaced). */
function checkOutJournal(out: string, header: JournalHeader): void {
  const path = join(out, JOURNAL_FILE);
  if (!existsSync(path)) return;
  const old = readJournal(path).header;
  if (old.fingerprint !== header.fingerprint || old.inputDigest !== header.inputDigest) {
    throw new AnnotateError('ANNOTATE_MERGE', `--out ${out} already holds the journal of another run (${path}); merge into another folder`);
  }
}

/**
 * Merges the shard folders into `options.out` (see the module comment).
 * @throws AnnotateError naming the folders at fault
 */
export async function mergeShards(folders: readonly string[], options: MergeOptions): Promise<MergeSummary> {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  if (folders.length === 0) throw new AnnotateError('ANNOTATE_MERGE', 'no shard folders given');
  const out = resolve(options.out);
  const shards = readShards(folders.map((f) => resolve(f)), warn);
  checkSameRun(shards);
  const header = shards[0].journal.header;
  const records = unionRecords(shards);
  const { missingShards, problems, missingImages } = coverage(shards, records);
  if (problems.length > 0) {
    if (!options.partial) throw new AnnotateError('ANNOTATE_MERGE', `the shards do not cover the input: ${problems.join('; ')}; finish them (rerun the same resdet annotate command) or pass --partial to merge what there is`);
    warn(`merging a part of the input: ${problems.join('; ')}`);
  } else if (inputDigest(records) !== header.inputDigest) {
    throw new AnnotateError('ANNOTATE_MERGE', `the shards' records do not match their input list (records of an earlier input list?); rerun resdet annotate on each shard`);
  }
  const formats: OutputFormat[] = ['coco', ...(options.formats ?? []).filter((f) => f !== 'coco')];
  const polygons = options.polygons ?? false;
  if ((polygons || formats.some((f) => f !== 'coco')) && header.options.polygons === false) {
    throw new AnnotateError('ANNOTATE_MERGE', `${shards[0].folder} was annotated without polygons, which --polygons, --format yolo and --format labelstudio need; rerun resdet annotate with them`);
  }
  const lock = await prepareOut(out, shards);
  try {
    checkOutJournal(out, header);
    const merged: JournalHeader = { ...header, shard: { ...WHOLE_INPUT }, createdAt: new Date().toISOString() };
    writeFileAtomic(join(out, JOURNAL_FILE), Buffer.concat([encodeRecord({ kind: 'header', ...merged }), ...records.map((r) => encodeRecord(r))]));
    // The info of a whole run's dataset (shard null), saying which shards it was merged from.
    const given = [...new Set(shards.map((s) => formatShard(s.journal.header.shard)))].join(', ');
    const info = { description: `resdet merge of shards ${given}`, shard: null };
    const written = await writeDataset(out, records, { categories: header.categories, formats: [...new Set(formats)], polygons, info, warn });
    return {
      folders: shards.length, images: written.images, annotations: written.annotations, failed: written.failed,
      missingShards, missingImages, files: [JOURNAL_FILE, ...written.files],
    };
  } finally {
    await releaseLock(lock);
  }
}
