/**
 * A lock file per download, so that two processes never append to the same partial file: created
 * with exclusive create and holding the owner's pid; a lock whose process is gone is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { DownloadError } from './errors.js';

/** A held lock: remove it with `releaseLock`. */
export interface Lock {
  path: string;
}

/** Locks this process holds: a lock file with our own pid not in here is from an earlier process (pids are reused, e.g. pid 1 in containers). */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock at `path`, for the download of `what`.
 * @throws DownloadError when a live process holds it
 */
export async function takeLock(path: string, what: string): Promise<Lock> {
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, 'wx', 0o644);
      await file.writeFile(String(process.pid));
      await file.close();
      heldHere.add(path);
      return { path };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    const owner = Number(await readFile(path, 'utf8').catch(() => ''));
    const live = owner === process.pid ? heldHere.has(path) : Number.isInteger(owner) && owner > 0 && alive(owner);
    if (live) {
      throw new DownloadError(what, `another resdet process (pid ${owner}) is downloading this file; wait for it, or remove ${path} if it is not running`);
    }
    await rm(path, { force: true }); // left by a process that died
  }
}

/** Releases a lock taken with `takeLock`. */
export async function releaseLock(lock: Lock): Promise<void> {
  heldHere.delete(lock.path);
  await rm(lock.path, { force: true });
}
