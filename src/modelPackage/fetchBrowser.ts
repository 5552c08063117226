/**
 * Fetching a model package in browsers: the per-file logic of remote.ts over the Cache API.
 * Files are cached under their sha256 (a key that is a name, never fetched), so a second load, in
 * this page or a later one, requests only resdet.json while the files are unchanged. Imports
 * nothing of Node's.
 */
import type { Precision } from './manifest.js';
import { type DownloadProgress, fetchModelPackage, type PackageFileStore, type RemotePackage, sha256Mismatch } from './remote.js';

/** The Cache API cache resdet uses; the version changes if the layout ever does. */
export const BROWSER_CACHE_NAME = 'resdet-packages-v1';
/** Cache keys are URLs; `.invalid` is reserved (RFC 2606), so a key can never be a real address. */
const KEY_PREFIX = 'https://resdet.invalid/sha256/';

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The cache, or undefined where there is none (insecure contexts, storage disabled): then every load downloads. */
async function openCache(): Promise<Cache | undefined> {
  if (typeof caches === 'undefined') return undefined;
  return caches.open(BROWSER_CACHE_NAME).catch(() => undefined);
}

/**
 * The package-file store over a Cache API cache (none: no caching). Downloads are assembled in
 * memory (the session needs the bytes anyway), verified, and only then put in the cache, so a
 * cut download leaves nothing there; a cached file is verified again when read.
 */
export function browserPackageStore(cache: Cache | undefined): PackageFileStore {
  return {
    async get(entry) {
      const key = KEY_PREFIX + entry.sha256;
      const hit = await cache?.match(key).catch(() => undefined);
      if (!hit) return undefined;
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (bytes.byteLength === entry.bytes && (await sha256Hex(bytes)) === entry.sha256) return bytes;
      await cache?.delete(key).catch(() => false);
      return undefined;
    },
    async put(entry, url, chunks) {
      // chunks never add up to more than entry.bytes: the counting reader refuses that first.
      const bytes = new Uint8Array(entry.bytes);
      let offset = 0;
      for await (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      const digest = await sha256Hex(bytes);
      if (digest !== entry.sha256) throw sha256Mismatch(url, entry, digest);
      const response = new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } });
      // Over quota, or a private window: the load still works, the next one downloads again.
      await cache?.put(KEY_PREFIX + entry.sha256, response).catch(() => undefined);
      return bytes;
    },
  };
}

/**
 * Fetches a package from `model` (its folder URL, relative to the page), through the Cache API.
 * @throws ModelPackageError / DownloadError naming the URL, see `fetchModelPackage`
 */
export async function fetchModelPackageInBrowser(
  model: string | URL, options: { onProgress?: (progress: DownloadProgress) => void; dtype?: Precision } = {},
): Promise<RemotePackage> {
  return fetchModelPackage(model, browserPackageStore(await openCache()), { onProgress: options.onProgress, relativeTo: globalThis.location?.href, dtype: options.dtype });
}
