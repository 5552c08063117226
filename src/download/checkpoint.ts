/**
 * Downloading a checkpoint for `resdet convert <url>`: streamed to disk (never whole in memory)
 * into `<cache>/checkpoints/<url key>/<file name>`, resumable, checked as torch.hub checks.
 *
 * Resuming: the bytes received so far stay in `<name>.partial`, with the server's validators
 * (ETag, Last-Modified, length) in `<name>.partial.json`. The next attempt asks for the rest with
 * `Range` and `If-Range`: a 206 continues the file; a 200 (the server ignores ranges, or the file
 * changed) starts it over from that response. Only a complete file, of the announced length and
 * with the hash its name carries, is renamed to `<name>`; a later convert of the same URL uses it
 * without a request, as torch.hub does.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CheckpointError } from '../checkpoint/errors.js';
import type { DownloadProgress } from '../modelPackage/remote.js';
import { resdetCacheDir } from './cacheDir.js';
import { DownloadError, fetchFailure } from './errors.js';
import { releaseLock, takeLock } from './lock.js';

/**
 * torch.hub's HASH_REGEX: torchvision's published names end in the first hex digits of their
 * sha256 (`maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth`), which `load_state_dict_from_url` checks.
 */
const HASH_IN_NAME = /-([0-9a-f]+)\./;

/** The server's validators of a partial download, kept beside it. */
interface PartialState {
  url: string;
  etag?: string;
  lastModified?: string;
  length?: number;
}

/** Where a checkpoint is, once downloaded. */
export interface DownloadedCheckpoint {
  /** The file in the cache. */
  path: string;
  /** The URL's file name (what the converter's defaults, like FrozenBatchNorm eps, look at). */
  name: string;
  /** True when no request was made: the file was already in the cache. */
  cached: boolean;
}

/** The URL's last path segment, decoded; 'checkpoint.pth' when it has none usable as a file name. */
export function checkpointFileName(url: URL): string {
  const last = url.pathname.split('/').pop() ?? '';
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // a malformed escape: keep the raw segment
  }
  return name && name !== '.' && name !== '..' && !/[\\/\0:]/.test(name) ? name : 'checkpoint.pth';
}

/** The sha256 prefix a torchvision-style name carries (`...-bf2d0c1e.pth` -> 'bf2d0c1e'), if any. */
export function hashPrefixOf(name: string): string | undefined {
  return HASH_IN_NAME.exec(name)?.[1];
}

/** The cache path of the checkpoint at `url` (a folder per URL, the file under the URL's name). */
export function checkpointCachePath(url: URL, cacheDir: string = resdetCacheDir()): string {
  const key = createHash('sha256').update(url.href).digest('hex').slice(0, 16);
  return join(cacheDir, 'checkpoints', key, checkpointFileName(url));
}

function strongValidator(state: PartialState): string | undefined {
  // If-Range needs a strong validator: a weak ETag may not stand for the same bytes.
  if (state.etag && !state.etag.startsWith('W/')) return state.etag;
  return state.lastModified;
}

async function readPartial(partial: string, url: URL): Promise<{ state: PartialState; size: number } | undefined> {
  const size = await stat(partial).then((s) => s.size, () => 0);
  if (size === 0) return undefined;
  const state = await readFile(`${partial}.json`, 'utf8').then((t) => JSON.parse(t) as PartialState, () => undefined);
  if (!state || state.url !== url.href || !strongValidator(state) || (state.length !== undefined && size >= state.length)) return undefined;
  return { state, size };
}

async function fetchOrThrow(url: URL, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(url, { headers });
  } catch (e) {
    throw new DownloadError(url.href, `cannot fetch the checkpoint (${fetchFailure(e)}); check the address and the network`, { cause: e });
  }
}

/** Asks for the rest of a partial download, or for the whole file; says where the body starts. */
async function request(url: URL, partial: { state: PartialState; size: number } | undefined): Promise<{ response: Response; start: number }> {
  // identity: byte ranges and lengths must count the file's bytes, not a compressed encoding's.
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (partial) {
    const response = await fetchOrThrow(url, { ...headers, range: `bytes=${partial.size}-`, 'if-range': strongValidator(partial.state)! });
    if (response.status === 206) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
      const total = range?.[2] === '*' ? undefined : Number(range?.[2]);
      if (range && Number(range[1]) === partial.size && (partial.state.length === undefined || total === partial.state.length)) {
        return { response, start: partial.size };
      }
    }
    if (response.status === 200) return { response, start: 0 };
    // A range that does not fit what we hold (or 416): forget the partial file and start over.
    await response.body?.cancel().catch(() => undefined);
  }
  return { response: await fetchOrThrow(url, headers), start: 0 };
}

function stateOf(url: URL, response: Response): PartialState {
  const length = response.headers.get('content-length');
  return {
    url: url.href,
    etag: response.headers.get('etag') ?? undefined,
    lastModified: response.headers.get('last-modified') ?? undefined,
    length: length !== null && /^\d+$/.test(length) ? Number(length) : undefined,
  };
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** Appends the body to `partial` (from byte `start`), hashing the whole file; returns its sha256. */
async function receive(
  url: URL, response: Response, partial: string, start: number, total: number | undefined,
  report: (loaded: number) => void,
): Promise<string> {
  const hash = createHash('sha256');
  if (start > 0) await hashFile(partial, hash);
  const file = await open(partial, start > 0 ? 'a' : 'w', 0o644);
  let loaded = start;
  report(loaded);
  const reader = response.body?.getReader();
  try {
    if (!reader) throw new DownloadError(url.href, 'the response has no body');
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      hash.update(chunk.value);
      await file.write(chunk.value);
      loaded += chunk.value.byteLength;
      report(loaded);
    }
  } catch (e) {
    await reader?.cancel().catch(() => undefined); // e.g. the disk is full: let the connection go
    if (e instanceof DownloadError) throw e;
    throw new DownloadError(url.href, `connection lost after ${loaded} of ${total ?? '?'} bytes (${fetchFailure(e)}); run the command again to resume`, { cause: e });
  } finally {
    await file.close();
  }
  if (total !== undefined && loaded !== total) {
    throw new DownloadError(url.href, `the server closed the connection after ${loaded} of ${total} bytes; run the command again to resume`);
  }
  return hash.digest('hex');
}

/**
 * Downloads the checkpoint at `url` into the cache (or finds it there), resuming an interrupted
 * download where the server accepts ranges, and checking the sha256 prefix its name may carry.
 * @param options cacheDir (default: resdetCacheDir(), which honours RESDET_CACHE); onProgress
 * @throws DownloadError naming the URL: unreachable, HTTP error, connection cut (the part received
 *   is kept for resuming); CheckpointError naming the URL: the sha256 does not match its name
 */
export async function downloadCheckpoint(
  url: URL, options: { cacheDir?: string; onProgress?: (progress: DownloadProgress) => void } = {},
): Promise<DownloadedCheckpoint> {
  const path = checkpointCachePath(url, options.cacheDir);
  const name = checkpointFileName(url);
  const progress = (loaded: number, total: number | undefined, cached: boolean) => options.onProgress?.({ file: name, url: url.href, loaded, total, cached });
  if (existsSync(path)) {
    const size = (await stat(path)).size;
    progress(size, size, true);
    return { path, name, cached: true };
  }
  const partial = `${path}.partial`;
  await mkdir(dirname(path), { recursive: true });
  const lock = await takeLock(`${path}.lock`, url.href);
  try {
    const held = await readPartial(partial, url);
    const { response, start } = await request(url, held);
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      throw new DownloadError(url.href, `cannot download the checkpoint: ${status}`, { status: response.status });
    }
    const state = start > 0 ? held!.state : stateOf(url, response);
    if (start === 0) await writeFile(`${partial}.json`, JSON.stringify(state));
    const digest = await receive(url, response, partial, start, state.length, (loaded) => progress(loaded, state.length, false));
    if (state.length === undefined) {
      const size = (await stat(partial)).size;
      progress(size, size, false); // the length is known now: end the progress at it
    }
    const prefix = hashPrefixOf(name);
    if (prefix && !digest.startsWith(prefix)) {
      await rm(partial, { force: true });
      await rm(`${partial}.json`, { force: true });
      throw new CheckpointError(url.href, `sha256 is ${digest.slice(0, 12)}..., but the file name says it starts with ${prefix} (as torch.hub checks): the download is corrupt or the file was replaced; nothing was kept`);
    }
    await rename(partial, path);
    await rm(`${partial}.json`, { force: true });
    return { path, name, cached: false };
  } finally {
    await releaseLock(lock);
  }
}
