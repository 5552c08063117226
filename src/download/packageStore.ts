/**
 * Node's store of package files: a content-addressed folder, `<cache>/blobs/sha256/<hex>`.
 *
 * A download is streamed to a temporary file in that folder, with an unpredictable name opened by
 * exclusive create, hashed as it is written, and renamed to its sha256 only when the size and
 * digest match the manifest; on any failure the temporary file is removed. So a name in the
 * store is only ever a complete, verified file. Reads verify again (size, then sha256), because
 * a cache on disk can still be damaged or edited; a damaged file is dropped and downloaded again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestFile } from '../modelPackage/manifest.js';
import { type PackageFileStore, sha256Mismatch } from '../modelPackage/remote.js';
import { resdetCacheDir } from './cacheDir.js';

const TEMP_PREFIX = '.tmp-';
/** Temporary files older than this were left by a process that died; they are swept. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function sweepStaleTemps(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (s && now - s.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
  }
}

/** Streams `chunks` into `dir/<sha256>` through a temporary file, keeping it only if it matches. */
async function storeVerified(dir: string, entry: ManifestFile, url: URL, chunks: AsyncIterable<Uint8Array>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await sweepStaleTemps(dir);
  const target = join(dir, entry.sha256);
  const tmp = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
  let file: FileHandle | undefined = await open(tmp, 'wx', 0o644);
  try {
    const hash = createHash('sha256');
    for await (const chunk of chunks) {
      hash.update(chunk);
      await file.write(chunk);
    }
    await file.sync();
    await file.close();
    file = undefined;
    const digest = hash.digest('hex');
    if (digest !== entry.sha256) throw sha256Mismatch(url, entry, digest);
    try {
      await rename(tmp, target);
    } catch (e) {
      // Another process stored the same digest first (Windows refuses to rename onto it): its
      // file has the same verified content.
      if (!existsSync(target)) throw e;
    }
    return target;
  } finally {
    await file?.close().catch(() => undefined);
    await rm(tmp, { force: true });
  }
}

/**
 * The package-file store under `cacheDir` (default: `resdetCacheDir()`, which honours RESDET_CACHE).
 */
export function nodePackageStore(cacheDir: string = resdetCacheDir()): PackageFileStore {
  const dir = join(cacheDir, 'blobs', 'sha256');
  return {
    async get(entry) {
      const path = join(dir, entry.sha256);
      const size = await stat(path).then((s) => s.size, () => undefined);
      if (size === undefined) return undefined;
      if (size === entry.bytes) {
        const bytes = await readFile(path);
        if (sha256Hex(bytes) === entry.sha256) return bytes;
      }
      await rm(path, { force: true });
      return undefined;
    },
    async put(entry, url, chunks) {
      return readFile(await storeVerified(dir, entry, url, chunks));
    },
  };
}
