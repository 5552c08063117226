/**
 * Where the page's model comes from (the bundled package, a package URL, a dropped or picked
 * folder) and which provider runs it, through resdet's browser entry: `loadModel(url)` (download
 * progress, the Cache API) and `loadModelFromFiles(files)`.
 */
import { type Detector, type DownloadProgress, loadModel, loadModelFromFiles, type Manifest, ProviderUnavailableError } from 'resdet';

export type ProviderChoice = 'auto' | 'webgpu' | 'wasm';

export type ModelSource =
  | { kind: 'bundled'; url: string }
  | { kind: 'url'; url: string }
  | { kind: 'files'; files: File[]; name: string };

export interface LoadedModel {
  detector: Detector;
  source: ModelSource;
  provider: 'webgpu' | 'wasm';
  /** Why the provider is the one it is (e.g. no WebGPU adapter), for the page. */
  providerNote: string;
  loadMs: number;
  /** Bytes downloaded and bytes taken from the cache (URL loads). */
  downloaded: number;
  cached: number;
}

/** Why WebGPU cannot run here, or undefined when the browser gives an adapter. */
export async function webgpuMissing(): Promise<string | undefined> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<object | null> } }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu)';
  try {
    return (await gpu.requestAdapter()) ? undefined : 'the browser gives no WebGPU adapter';
  } catch (e) {
    return `requesting a WebGPU adapter failed (${(e as Error).message})`;
  }
}

export function sourceName(source: ModelSource): string {
  if (source.kind === 'bundled') return 'shapes (bundled)';
  if (source.kind === 'files') return `${source.name} (folder)`;
  return source.url;
}

/** 'Mask R-CNN v1, ResNet-50-FPN' from the manifest. */
export function describeNetwork(manifest: Manifest): string {
  const family = manifest.source?.family;
  if (typeof family === 'string') return family;
  const head = manifest.architecture === 'maskrcnn' ? 'Mask R-CNN' : 'Faster R-CNN';
  const arch = manifest.backbone.arch ?? manifest.backbone.kind;
  const channels = manifest.backbone.levels[0]?.channels;
  return `${head}, ${arch} ResNet-FPN (${channels} channels, ${manifest.backbone.levels.length} levels)`;
}

async function open(source: ModelSource, provider: 'webgpu' | 'wasm', onProgress: (p: DownloadProgress) => void): Promise<Detector> {
  if (source.kind === 'files') return loadModelFromFiles(source.files, { provider, where: source.name });
  return loadModel(new URL(source.url, location.href), { provider, onProgress });
}

/**
 * Loads `source` on the chosen provider; 'auto' takes WebGPU when the browser gives an adapter
 * and falls back to WASM (saying why) when there is none or the WebGPU build cannot start.
 */
export async function loadFrom(source: ModelSource, choice: ProviderChoice, onProgress: (p: DownloadProgress) => void): Promise<LoadedModel> {
  const files = new Map<string, DownloadProgress>();
  const progress = (p: DownloadProgress) => {
    files.set(p.file, p);
    onProgress(p);
  };
  const start = performance.now();
  let provider: 'webgpu' | 'wasm' = choice === 'auto' ? 'webgpu' : choice;
  let providerNote = choice === 'auto' ? 'chosen: the browser gives a WebGPU adapter' : 'as asked';
  if (choice === 'auto') {
    const missing = await webgpuMissing();
    if (missing) [provider, providerNote] = ['wasm', `WebGPU unavailable: ${missing}`];
  }
  let detector: Detector;
  try {
    detector = await open(source, provider, progress);
  } catch (e) {
    if (!(choice === 'auto' && provider === 'webgpu' && e instanceof ProviderUnavailableError)) throw e;
    [provider, providerNote] = ['wasm', `WebGPU could not start (${e.message})`];
    detector = await open(source, provider, progress);
  }
  const all = [...files.values()];
  return {
    detector, source, provider, providerNote, loadMs: performance.now() - start,
    downloaded: all.filter((p) => !p.cached).reduce((n, p) => n + p.loaded, 0),
    cached: all.filter((p) => p.cached).reduce((n, p) => n + p.loaded, 0),
  };
}

/** The files of a dropped folder (DataTransferItem.webkitGetAsEntry), one level deep, as a package is. */
export async function filesOfDroppedFolder(entry: FileSystemDirectoryEntry): Promise<File[]> {
  const reader = entry.createReader();
  const entries: FileSystemEntry[] = [];
  // readEntries returns the folder in batches, then an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    entries.push(...batch);
  }
  const files = entries.filter((e): e is FileSystemFileEntry => e.isFile);
  return Promise.all(files.map((f) => new Promise<File>((resolve, reject) => f.file(resolve, reject))));
}
