/**
 * The journal of a `resdet annotate` run (out/annotate.journal): append-only, one self-checking
 * record a line, fsync'd after each append, so that a run killed at any moment (kill -9, power
 * loss) resumes with everything that was written before.
 *
 * Line format: `<length> <crc32> <json>\n`, where length is the JSON's UTF-8 byte count in
 * decimal and crc32 its zlib CRC-32 in 8 lower-case hex digits. JSON never holds a raw newline,
 * so a line is a record. The first record is the header (`kind: 'header'`, {@link JournalHeader});
 * a later header (same fingerprint and shard) replaces it, written when a resumed run's input list
 * changed; every other record is an ImageRecord. The last record for a fileName wins.
 *
 * Recovery on open:
 * - a torn or corrupt last record (or several bad lines after the last good one) is discarded and
 *   the file truncated to the end of the last good record;
 * - a corrupt record followed by good ones is skipped and counted (never dropping later records);
 * - a line over {@link MAX_RECORD_BYTES} is corrupt, and is skipped without being held in memory;
 * - a file with no good record in several lines is not a journal: refused, never truncated.
 * Restart (`--restart`) moves the old journal aside to `annotate.journal.old-<UTC time>`: it is
 * never deleted, so a mistaken --restart loses nothing.
 */
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, ftruncateSync, writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DownloadError } from '../download/errors.js';
import { type Lock, releaseLock, takeLock } from '../download/lock.js';
import { AnnotateError } from './errors.js';
import { describeDifference, type ModelIdentity } from './identity.js';
import { type Shard, formatShard } from './shard.js';
import type { Category, ImageRecord } from './types.js';

export const JOURNAL_FILE = 'annotate.journal';
export const LOCK_FILE = 'annotate.lock';
export const JOURNAL_VERSION = 1;
/** A record line longer than this is corrupt (no real image's record comes near it). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

/** The first record of a journal: what the run was, so that a resume or a merge can check it. */
export interface JournalHeader {
  version: number;
  /** runFingerprint of the model and the options that change results. */
  fingerprint: string;
  /** inputDigest of the whole global input list (before sharding). */
  inputDigest: string;
  /** How many images the global input list has. */
  inputCount: number;
  shard: Shard;
  model: ModelIdentity;
  options: Record<string, unknown>;
  /** The model's categories, as the dataset lists them. */
  categories: Category[];
  /** ISO 8601 time the header was written. */
  createdAt: string;
}

/** A header as a run gives it to openJournal: version and time are filled in. */
export type NewJournalHeader = Omit<JournalHeader, 'version' | 'createdAt'> & { createdAt?: string };

/** What reading a journal found. */
export interface JournalContents {
  /** The last header; undefined for an empty (or only torn) file. */
  header: JournalHeader | undefined;
  /** The last record of each fileName, in the order of those last writes. */
  records: Map<string, ImageRecord>;
  /** Bad records followed by good ones: skipped. */
  corruptRecords: number;
  /** Byte offset just past the last good record. */
  goodBytes: number;
  /** The file's size as read; bytes past goodBytes are a torn or corrupt tail. */
  size: number;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isObject(o: unknown): boolean {
  if (!isObj(o) || !isNum(o.score) || !isInt(o.categoryId) || !isNum(o.area)) return false;
  const box = o.bbox;
  return Array.isArray(box) && box.length === 4 && box.every(isNum);
}

/**
 * The record if `value` has an ImageRecord's shape (a crc only proves the bytes are the ones
 * written; a journal from elsewhere may still hold anything), else undefined.
 */
export function checkRecord(value: unknown): ImageRecord | undefined {
  if (!isObj(value) || typeof value.fileName !== 'string' || !isInt(value.index) || value.index < 0 || !isInt(value.id) || !isInt(value.bytes)) return undefined;
  if (value.kind === 'done') {
    const ok = isInt(value.width) && isInt(value.height) && Array.isArray(value.objects) && value.objects.every(isObject);
    return ok ? (value as unknown as ImageRecord) : undefined;
  }
  if (value.kind === 'failed') return typeof value.code === 'string' && typeof value.error === 'string' ? (value as unknown as ImageRecord) : undefined;
  return undefined;
}

/**
 * The header in `value` (a record with kind 'header').
 * @throws AnnotateError (ANNOTATE_JOURNAL) when it is of another version or malformed
 */
export function checkHeader(value: unknown, path: string): JournalHeader {
  const h = value as Record<string, unknown>;
  if (h.version !== JOURNAL_VERSION) {
    throw new AnnotateError('ANNOTATE_JOURNAL', `${path}: journal version ${JSON.stringify(h.version)} (this resdet reads version ${JOURNAL_VERSION}); use the resdet that wrote it, or rerun with --restart`);
  }
  const shard = h.shard as Record<string, unknown> | undefined;
  const ok = typeof h.fingerprint === 'string' && typeof h.inputDigest === 'string' && isInt(h.inputCount) && h.inputCount >= 0
    && isObj(shard) && isInt(shard.k) && isInt(shard.n) && shard.k >= 1 && shard.k <= shard.n
    && isObj(h.model) && isObj(h.options) && Array.isArray(h.categories) && typeof h.createdAt === 'string';
  if (!ok) throw new AnnotateError('ANNOTATE_JOURNAL', `${path}: its header is malformed; move the journal away or rerun with --restart`);
  const { kind: _kind, ...header } = h;
  return header as unknown as JournalHeader;
}

/** `<length> <crc32> <json>\n` for one record. */
export function encodeRecord(value: object): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const crc = (crc32(json) >>> 0).toString(16).padStart(8, '0');
  return Buffer.concat([Buffer.from(`${json.byteLength} ${crc} `, 'latin1'), json, Buffer.from('\n', 'latin1')]);
}

/** The value of one line (without its '\n'), or undefined when its length, crc or JSON is wrong. */
export function decodeLine(line: Buffer): unknown {
  const first = line.indexOf(0x20);
  const second = first < 0 ? -1 : line.indexOf(0x20, first + 1);
  if (first < 1 || first > 9 || second !== first + 9) return undefined;
  const lengthText = line.toString('latin1', 0, first);
  const crcText = line.toString('latin1', first + 1, second);
  if (!/^\d+$/.test(lengthText) || !/^[0-9a-f]{8}$/.test(crcText)) return undefined;
  const json = line.subarray(second + 1);
  if (json.byteLength !== Number(lengthText) || (crc32(json) >>> 0) !== parseInt(crcText, 16)) return undefined;
  try {
    return JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Calls `onLine(line, end)` for each '\n'-terminated line of the file open at `fd`, reading 1 MiB
 * at a time; a line over the limit is reported as `undefined` without being kept. Returns the
 * file's size and the number of lines seen.
 */
function forEachLine(fd: number, onLine: (line: Buffer | undefined, end: number) => void): { size: number; lines: number } {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overlong = false;
  let offset = 0;
  let lines = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, CHUNK_BYTES, offset);
    if (n === 0) break;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, 0); nl >= 0 && nl < n; nl = chunk.indexOf(0x0a, start)) {
      lines++;
      if (overlong || partBytes + nl - start > MAX_RECORD_BYTES + 32) onLine(undefined, offset + nl + 1);
      else onLine(Buffer.concat([...parts, chunk.subarray(start, nl)]), offset + nl + 1);
      parts = [];
      partBytes = 0;
      overlong = false;
      start = nl + 1;
    }
    if (start < n && !overlong) {
      partBytes += n - start;
      if (partBytes > MAX_RECORD_BYTES + 32) {
        overlong = true;
        parts = [];
      } else parts.push(Buffer.from(chunk.subarray(start, n)));
    }
    offset += n;
  }
  return { size: offset, lines: lines + (partBytes > 0 || overlong ? 1 : 0) };
}

/** Reads the journal open at `fd` (see the module comment); nothing is changed. */
function scan(fd: number, path: string): JournalContents {
  let header: JournalHeader | undefined;
  const records = new Map<string, ImageRecord>();
  let corruptRecords = 0;
  let badSinceGood = 0;
  let goodBytes = 0;
  const { size, lines } = forEachLine(fd, (line, end) => {
    const value = line === undefined ? undefined : decodeLine(line);
    const kind = (value as { kind?: unknown } | null)?.kind;
    if (kind === 'header') {
      const next = checkHeader(value, path);
      if (header && (next.fingerprint !== header.fingerprint || formatShard(next.shard) !== formatShard(header.shard))) {
        throw new AnnotateError('ANNOTATE_JOURNAL', `${path} holds records of two different runs (a second header with another fingerprint or shard); move it away or rerun with --restart`);
      }
      header = next;
    } else {
      const record = value === undefined ? undefined : checkRecord(value);
      if (!record) {
        badSinceGood++;
        return;
      }
      if (!header) throw new AnnotateError('ANNOTATE_JOURNAL', `${path}: its first record is not a header (not a resdet annotate journal, or its header is damaged); move it away or rerun with --restart`);
      records.delete(record.fileName); // the last record wins, and is kept in its writing order
      records.set(record.fileName, record);
    }
    corruptRecords += badSinceGood;
    badSinceGood = 0;
    goodBytes = end;
  });
  if (!header && lines > 1) {
    throw new AnnotateError('ANNOTATE_JOURNAL', `${path}: not a resdet annotate journal (no valid record in ${lines} lines); move it away or rerun with --restart`);
  }
  return { header, records, corruptRecords, goodBytes, size };
}

/**
 * Reads a journal without changing it (what `resdet merge` does with shard folders).
 * @throws AnnotateError (ANNOTATE_JOURNAL) when it is missing, has no header or is not a journal
 */
export function readJournal(path: string): JournalContents & { header: JournalHeader } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AnnotateError('ANNOTATE_JOURNAL', `${path}: cannot read the journal (${code === 'ENOENT' ? 'no such file: not a resdet annotate output folder' : code ?? (e as Error).message})`, { cause: e });
  }
  try {
    const contents = scan(fd, path);
    if (!contents.header) throw new AnnotateError('ANNOTATE_JOURNAL', `${path}: the journal is empty (the run stopped before its first record)`);
    return contents as JournalContents & { header: JournalHeader };
  } finally {
    closeSync(fd);
  }
}

/** An open journal: records read at open, appends durable when `append` returns. */
export interface Journal {
  readonly path: string;
  /** The header in force (the one given to openJournal). */
  readonly header: JournalHeader;
  /** The last record of each fileName: those read at open, then those appended. */
  readonly records: ReadonlyMap<string, ImageRecord>;
  /** What opening found: skipped corrupt records, the torn tail cut off, the journal moved aside. */
  readonly recovered: { corruptRecords: number; discardedBytes: number; movedAside?: string };
  /** Appends one record and fsyncs it. */
  append(record: ImageRecord): void;
  /** Closes the file and releases the output folder's lock. */
  close(): Promise<void>;
}

/**
 * Takes `<folder>/annotate.lock` (a run or a merge writing that folder).
 * @throws AnnotateError (ANNOTATE_LOCKED) naming the live process that holds it
 */
export async function lockOutput(folder: string): Promise<Lock> {
  const path = join(folder, LOCK_FILE);
  try {
    return await takeLock(path, folder);
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e;
    const pid = readFileSync(path, 'utf8').trim() || '?';
    throw new AnnotateError('ANNOTATE_LOCKED', `another resdet annotate (pid ${pid}) is writing ${folder}; wait for it, or remove ${path} if it is not running`, { cause: e });
  }
}

/** Moves the journal aside as `<path>.old-<UTC time>`, never over an existing file. */
function moveAside(path: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  let aside = `${path}.old-${stamp}`;
  for (let i = 2; existsSync(aside); i++) aside = `${path}.old-${stamp}-${i}`;
  renameSync(path, aside);
  return aside;
}

/** Refuses a journal made by another run (see the module comment for what must match). */
function checkSameRun(path: string, old: JournalHeader, header: JournalHeader): void {
  const what = 'rerun with --restart to start over (the old journal is kept as annotate.journal.old-<time>) or pick another --out';
  if (old.fingerprint !== header.fingerprint) {
    const differs = describeDifference(old, header) ?? `another run identity (fingerprint ${old.fingerprint.slice(0, 12)} vs ${header.fingerprint.slice(0, 12)})`;
    throw new AnnotateError('ANNOTATE_MISMATCH', `${path} was made with ${differs}; ${what}`);
  }
  if (formatShard(old.shard) !== formatShard(header.shard)) {
    throw new AnnotateError('ANNOTATE_MISMATCH', `${path} holds shard ${formatShard(old.shard)}, not ${formatShard(header.shard)}; ${what}`);
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.byteLength;) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
  fsyncSync(fd);
}

/**
 * Opens (or creates) the journal at `path` for appending, holding `<its folder>/annotate.lock`
 * until `close`. An existing journal must be of the same run (fingerprint and shard); its torn
 * tail is cut off; when the input list changed (digest or count) the new header is appended.
 * @throws AnnotateError: ANNOTATE_LOCKED (another live run), ANNOTATE_MISMATCH (another model,
 * options or shard: names what differs), ANNOTATE_JOURNAL (not a journal)
 */
export async function openJournal(path: string, newHeader: NewJournalHeader, options: { restart?: boolean } = {}): Promise<Journal> {
  const header: JournalHeader = { version: JOURNAL_VERSION, ...newHeader, createdAt: newHeader.createdAt ?? new Date().toISOString() };
  mkdirSync(dirname(path), { recursive: true });
  const lock = await lockOutput(dirname(path));
  let fd: number | undefined;
  try {
    const movedAside = options.restart && existsSync(path) ? moveAside(path) : undefined;
    fd = openSync(path, 'a+');
    const found = scan(fd, path);
    if (found.header) checkSameRun(path, found.header, header);
    if (found.size > found.goodBytes) {
      ftruncateSync(fd, found.goodBytes);
      fsyncSync(fd);
    }
    const sameInputs = found.header?.inputDigest === header.inputDigest && found.header?.inputCount === header.inputCount;
    if (!sameInputs) writeAll(fd, encodeRecord({ kind: 'header', ...header }));
    return makeJournal(path, fd, lock, sameInputs ? found.header! : header, found, movedAside);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    await releaseLock(lock);
    throw e;
  }
}

function makeJournal(path: string, fd: number, lock: Lock, header: JournalHeader, found: JournalContents, movedAside: string | undefined): Journal {
  const records = found.records;
  let open = true;
  return {
    path,
    header,
    records,
    recovered: { corruptRecords: found.corruptRecords, discardedBytes: found.size - found.goodBytes, ...(movedAside ? { movedAside } : {}) },
    append(record: ImageRecord): void {
      if (!open) throw new Error(`${path}: append after close`);
      writeAll(fd, encodeRecord(record));
      records.delete(record.fileName);
      records.set(record.fileName, record);
    },
    async close(): Promise<void> {
      if (!open) return;
      open = false;
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
        await releaseLock(lock);
      }
    },
  };
}

