/**
 * File writing for batch commands: each output appears whole or not at all, and nothing is ever
 * written through a link planted in the output folder.
 *
 * An output `<dir>/<name>` is written to `<dir>/.<name>.resdet-tmp-<host>-<pid>-<random>`: created
 * exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, so a file or link already at that name is never opened),
 * with 96 random bits no other user can predict, fsynced, then renamed onto `<name>` (rename
 * replaces a link at `<name>` itself, never its target). A run killed mid-write leaves its
 * temporary file behind; the next write into that folder removes the ones whose owner process is
 * gone (same host), or that are older than a day (another host, or a reused pid).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, constants, fsync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { OutputError } from './usage.js';

const TEMP_MARK = '.resdet-tmp-';
/** A temporary file this old is stale whoever made it. */
const STALE_TEMP_MS = 24 * 3600 * 1000;
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
/** `.<name>.resdet-tmp-<host>-<pid>-<random>` */
const TEMP_NAME = /^\..+\.resdet-tmp-([0-9a-f]{8})-(\d+)-[0-9a-f]{24}$/;

// O_NOFOLLOW is POSIX; where it is missing (Windows) O_EXCL alone already refuses an existing link.
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/** The temporary name for writing `path` (exported for tests). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARK}${HOST}-${process.pid}-${randomBytes(12).toString('hex')}`);
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH'; // EPERM: alive, another user's
  }
}

/** Whether `name` is a temporary file of a writer that can no longer finish it. */
export function isStaleTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  const m = TEMP_NAME.exec(name);
  if (!m) return false;
  if (now - mtimeMs > STALE_TEMP_MS) return true;
  const pid = Number(m[2]);
  return m[1] === HOST && pid !== process.pid && processGone(pid);
}

const swept = new Set<string>();

/** Removes the stale temporary files in `dir`, once per folder per process. */
export function sweepStaleTemps(dir: string): void {
  if (swept.has(dir)) return;
  swept.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.includes(TEMP_MARK)) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isFile() && isStaleTemp(name, st.mtimeMs, now)) rmSync(path, { force: true });
    } catch {
      // another process removed or renamed it first
    }
  }
}

/** Creates a fresh temporary sibling of `path` exclusively; retries on the (unlikely) name clash. */
function createTemp(path: string): { fd: number; tmp: string } {
  for (let attempt = 0; ; attempt++) {
    const tmp = tempPathFor(path);
    try {
      return { fd: openSync(tmp, CREATE_FLAGS, 0o666), tmp };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 4) throw e;
    }
  }
}

/** Makes the rename itself durable; some platforms cannot fsync a folder, which only costs that. */
function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** {@link syncFolder} with the fsync on libuv's thread pool. */
async function syncFolderAsync(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    await fsyncAsync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const fsyncAsync = promisify(fsync);

/** The first half of an atomic write: `data` in an exclusive temporary sibling of `path`, still open. */
function writeTemp(path: string, data: Uint8Array | string): { fd: number; tmp: string } {
  sweepStaleTemps(dirname(path));
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const { fd, tmp } = createTemp(path);
  try {
    for (let offset = 0; offset < bytes.byteLength;) offset += writeSync(fd, bytes, offset, bytes.byteLength - offset);
  } catch (e) {
    abandon(fd, tmp);
    throw e;
  }
  return { fd, tmp };
}

function abandon(fd: number | undefined, tmp: string): void {
  if (fd !== undefined) closeSync(fd);
  rmSync(tmp, { force: true });
}

/** The second half, once the temporary file is on disk: closed and renamed onto `path`. */
function commitTemp(fd: number, tmp: string, path: string): void {
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    abandon(undefined, tmp);
    throw e;
  }
}

/** Writes to an exclusive temporary sibling, fsyncs and renames it: a crash never leaves a half-written `path`. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const { fd, tmp } = writeTemp(path, data);
  try {
    fsyncSync(fd);
  } catch (e) {
    abandon(fd, tmp);
    throw e;
  }
  commitTemp(fd, tmp, path);
  syncFolder(dirname(path));
}

/**
 * {@link writeFileAtomic} with its two fsyncs (the file's, then its folder's) on libuv's thread
 * pool: the same guarantee, and the calling thread is free while the disk flushes (8 ms per
 * preview on this project's machine, a tenth of an image's time in `resdet annotate --jobs`).
 */
export async function writeFileAtomicAsync(path: string, data: Uint8Array | string): Promise<void> {
  const { fd, tmp } = writeTemp(path, data);
  try {
    await fsyncAsync(fd);
  } catch (e) {
    abandon(fd, tmp);
    throw e;
  }
  commitTemp(fd, tmp, path);
  await syncFolderAsync(dirname(path));
}

/**
 * Creates the output folder, or says in one line why it cannot. Returns `removeIfUnused`: a run
 * refused before it wrote anything (a model that does not load, an unknown class) calls it, and
 * the folders this call created are removed again where they are still empty, so a failed first
 * command leaves nothing behind; a folder that existed before is never touched.
 */
export function makeOutputFolder(out: string): () => void {
  let first: string | undefined;
  try {
    first = mkdirSync(out, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way, not a folder' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? (e as Error).message;
    throw new OutputError(out, `cannot create the output folder (${why})`, e);
  }
  if (!statSync(out).isDirectory()) throw new OutputError(out, 'is a file, not a folder (--out names the output folder)');
  return () => {
    if (first === undefined) return;
    // From the leaf up to the first folder created here, each while it is empty.
    for (let dir = out; ; dir = dirname(dir)) {
      try {
        if (readdirSync(dir).length > 0) return;
        rmdirSync(dir);
      } catch {
        return;
      }
      if (dir === first || dirname(dir) === dir) return;
    }
  };
}
