/**
 * onnxruntime-web for the browser entry: which provider, which build, where its files are, and
 * what to do when they are not there.
 *
 * onnxruntime-web 1.30 ships one build per backend, each with its own WebAssembly file, and a
 * page downloads only the file of the build it imports:
 *   'onnxruntime-web/wasm'   -> ort-wasm-simd-threaded.wasm            (14 MB, CPU kernels)
 *   'onnxruntime-web/webgpu' -> ort-wasm-simd-threaded.asyncify.wasm   (27 MB, the WebGPU EP)
 *   'onnxruntime-web'        -> ort-wasm-simd-threaded.jsep.wasm       (28 MB, never used here)
 * Each build finds its .wasm with `new URL('<file>', import.meta.url)`: next to the build's own
 * module when it is served unbundled, next to the bundle when a bundler that leaves that pattern
 * alone (esbuild) inlined it. Vite rewrites it: `vite build` emits the file as a hashed asset and
 * points there, its dev server points at node_modules/onnxruntime-web/dist/ (Vite 8; see
 * test/browser/vite.test.ts), so a Vite app needs no setup. `env.wasm.wasmPaths` (our `wasmPaths`)
 * names the folder instead; then the build also imports its JS glue (`<file>.mjs`) from there.
 *
 * Exports: BrowserProvider, chooseBrowserProvider, loadOrtWeb, explainRuntimeFailure.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { type OrtModule, type Provider, ProviderUnavailableError, type RuntimeOptions } from './index.js';

export type BrowserProvider = 'webgpu' | 'wasm';

/** The file stem of each build's WebAssembly (`<stem>.wasm`) and JS glue (`<stem>.mjs`). */
const FILE_STEM: Record<BrowserProvider, string> = {
  wasm: 'ort-wasm-simd-threaded',
  webgpu: 'ort-wasm-simd-threaded.asyncify',
};

/** Imported on first use, so a page on WASM never fetches the WebGPU build or its wasm. */
const BUILDS: Record<BrowserProvider, () => Promise<typeof OrtWeb>> = {
  wasm: () => import('onnxruntime-web/wasm'),
  webgpu: () => import('onnxruntime-web/webgpu'),
};

const WEBGPU_ADVICE = "WebGPU needs Chrome or Edge 113+, Safari 26+ or Firefox 141+, a secure context (https: or localhost) and a GPU the browser allows; use provider 'wasm', or leave provider unset to fall back to it";

/** Whether the browser hands out a WebGPU adapter (navigator.gpu can exist and still give null). */
async function webgpuAdapterMissing(): Promise<string | undefined> {
  // TypeScript's DOM library has no WebGPU types yet: the one call made here, typed by hand.
  const gpu = (globalThis.navigator as (Navigator & { gpu?: { requestAdapter(): Promise<object | null> } }) | undefined)?.gpu;
  if (!gpu) return 'this browser has no navigator.gpu';
  try {
    return (await gpu.requestAdapter()) ? undefined : 'navigator.gpu.requestAdapter() gave no adapter';
  } catch (e) {
    return `navigator.gpu.requestAdapter() failed (${(e as Error).message})`;
  }
}

/**
 * The provider to run on: the one asked for, checked, or by default 'webgpu' when the browser
 * gives a WebGPU adapter and 'wasm' otherwise.
 */
export async function chooseBrowserProvider(requested: Provider | undefined): Promise<BrowserProvider> {
  if (requested === undefined) return (await webgpuAdapterMissing()) ? 'wasm' : 'webgpu';
  if (requested !== 'webgpu' && requested !== 'wasm') {
    throw new ProviderUnavailableError(requested, "not available in browsers (use 'webgpu' or 'wasm')");
  }
  if (requested === 'webgpu') {
    const missing = await webgpuAdapterMissing();
    if (missing) throw new ProviderUnavailableError('webgpu', `${missing}: ${WEBGPU_ADVICE}`);
  }
  return requested;
}

/** `wasmPaths` as the absolute folder URL onnxruntime-web prefixes its file names with. */
function wasmFolder(wasmPaths: string | URL): string {
  const href = new URL(String(wasmPaths), globalThis.location?.href).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/**
 * The provider's onnxruntime-web build, with `wasmPaths` and `threads` applied to its `env`
 * (settings the page made on that build's `env` itself are kept unless these are given).
 */
export async function loadOrtWeb(provider: BrowserProvider, options: RuntimeOptions): Promise<OrtModule> {
  let ort: typeof OrtWeb;
  try {
    ort = await BUILDS[provider]();
  } catch (e) {
    throw new ProviderUnavailableError(provider, `cannot import onnxruntime-web's ${provider} build (${(e as Error).message}): install onnxruntime-web 1.30 or later`, { cause: e });
  }
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmFolder(options.wasmPaths);
  // WebAssembly threads need SharedArrayBuffer, i.e. a cross-origin isolated page (COOP + COEP),
  // and their workers start the module holding onnxruntime-web's JS glue. Without wasmPaths that
  // is the build's own module, which a bundler inlines into the app's bundle: the workers then
  // start the whole app and never answer (seen with esbuild: Chromium closes the page). With
  // wasmPaths (ours or set on env by the page) the glue is the separate <stem>.mjs, so only then
  // is the build's default (up to 4 threads on an isolated page) kept.
  if (options.threads !== undefined) ort.env.wasm.numThreads = options.threads;
  else if (ort.env.wasm.wasmPaths === undefined && !(Number(ort.env.wasm.numThreads) > 0)) ort.env.wasm.numThreads = 1;
  return ort as unknown as OrtModule;
}

/** Why a URL does not serve onnxruntime-web's file, or undefined when it does. */
async function notServed(url: string): Promise<string | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'HEAD', cache: 'no-store' });
  } catch (e) {
    return `cannot be fetched (${(e as Error).message})`;
  }
  if (!response.ok) return `HTTP ${response.status}`;
  // A single-page app's catch-all route answers every path with its index.html.
  if (/text\/html/i.test(response.headers.get('content-type') ?? '')) return 'the server answers with an HTML page, not the file';
  return undefined;
}

/** The folder of the module that threw `error`: onnxruntime-web's (or the bundle holding it). */
function throwingModuleFolder(error: unknown): string | undefined {
  const stack = error instanceof Error ? error.stack ?? '' : '';
  const url = /\b((?:https?|file):\/\/[^\s()]+?\.m?js)\b/.exec(stack)?.[1];
  return url ? url.slice(0, url.lastIndexOf('/') + 1) : undefined;
}

/**
 * onnxruntime-web's own failure to start ("no available backend found ...") as a
 * ProviderUnavailableError naming the file that is missing and `wasmPaths`; other errors as
 * they are.
 */
export async function explainRuntimeFailure(error: unknown, provider: BrowserProvider, options: RuntimeOptions): Promise<unknown> {
  const message = error instanceof Error ? error.message : String(error);
  if (!/no available backend|Aborted\(|wasm-unsafe-eval|WebAssembly\.(instantiate|compile)/i.test(message)) return error;
  const stem = FILE_STEM[provider];
  const files = [`${stem}.wasm`, `${stem}.mjs`];
  const fix = `serve node_modules/onnxruntime-web/dist/ there (with esbuild, copy ${files.join(' and ')} next to the bundle), or pass loadModel(url, { wasmPaths: '<URL of a folder serving them>' })`;
  if (/wasm-unsafe-eval|Content Security Policy|Refused to compile/i.test(message)) {
    return new ProviderUnavailableError(provider, `the page's Content-Security-Policy forbids WebAssembly: add 'wasm-unsafe-eval' to its script-src (${message})`, { cause: error });
  }
  // Where the build looked: the wasmPaths folder, else next to its own module (failed fetches
  // leave no resource-timing entry to read the URL from, so the folder comes from the stack).
  const folder = options.wasmPaths !== undefined ? wasmFolder(options.wasmPaths) : throwingModuleFolder(error);
  if (folder) {
    for (const file of files) {
      const why = await notServed(folder + file);
      if (why) return new ProviderUnavailableError(provider, `the onnxruntime-web file ${file} was not found at ${folder + file} (${why}): ${fix}`, { cause: error });
    }
  }
  const where = folder ?? 'next to the onnxruntime-web module (when bundled: next to the bundle)';
  return new ProviderUnavailableError(provider, `onnxruntime-web could not start (${message}); it looks for ${files.join(' and ')} in ${where}: ${fix}`, { cause: error });
}
