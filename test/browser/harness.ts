/**
 * What the browser tests share: a page bundled as a user would bundle it, an HTTP server that
 * logs every request, and one headless Chromium with WebGPU on SwiftShader.
 */
import { expect } from 'chai';
import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { rleDecode, rleFrString, rleIou } from '../../postprocess/index.js';
import type { Detection, RleMask } from '../../src/index.js';
import type { FlatDetections } from '../helpers/matching.js';
import { repoRoot } from '../helpers/reference.js';

export const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json',
  '.html': 'text/html', '.png': 'image/png', '.onnx': 'application/octet-stream',
};

/** The onnxruntime-web files the README tells an esbuild user to copy next to the bundle. */
export const ORT_FILES = [
  'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.asyncify.mjs',
];
const ORT_DIST = join(repoRoot, 'node_modules', 'onnxruntime-web', 'dist');

/**
 * A user's page: `import { loadModel } from 'resdet'` bundled by esbuild for the browser
 * (the package resolved through its exports with the 'browser' condition, onnxruntime-web
 * bundled in, no wasm paths set), written to a folder as esbuild emits it.
 */
export async function bundleUserPage(): Promise<{ dir: string; files: string[]; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'resdet-page-'));
  const result = await build({
    stdin: {
      contents: "import * as resdet from 'resdet';\nglobalThis.resdet = resdet;\n",
      resolveDir: repoRoot, loader: 'js',
    },
    bundle: true, platform: 'browser', format: 'esm', outdir: dir, entryNames: 'app', metafile: true, logLevel: 'silent',
  });
  return { dir, files: Object.keys(result.metafile.outputs).map((f) => f.split('/').pop()!), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Request { path: string; status: number; bytes: number }

/**
 * Serves, on 127.0.0.1:
 *   /site/    the bundle folder plus the ORT_FILES (as if copied next to it, per the README)
 *   /bare/    the bundle folder alone (its wasm 404s)
 *   /models/, /samples/, /node_modules/  from the repository
 *   /hang/    never answered
 *   /<name>/  a folder of `mounts` (e.g. a package a test wrote to a temporary folder)
 * and logs every request with its status and the bytes sent.
 */
export async function serve(
  bundleDir: string, headers: Record<string, string> = {}, mounts: Record<string, string> = {},
): Promise<{ origin: string; requests: Request[]; close(): void; server: Server }> {
  const page = '<!doctype html><meta charset="utf-8"><script type="module" src="./app.js"></script>';
  const requests: Request[] = [];
  const fileFor = (path: string): string | undefined => {
    const [, area, ...rest] = path.split('/');
    const name = rest.join('/');
    if (area === 'site' || area === 'bare') {
      if (name === '' || name === 'index.html') return 'PAGE';
      if (area === 'site' && ORT_FILES.includes(name)) return join(ORT_DIST, name);
      return join(bundleDir, normalize(name));
    }
    if (['models', 'samples', 'node_modules'].includes(area)) return join(repoRoot, normalize(path));
    if (Object.hasOwn(mounts, area)) return join(mounts[area], normalize(name));
    return undefined;
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    // An image that never arrives, for an <img> that has not loaded yet.
    if (path.startsWith('/hang/')) return void requests.push({ path, status: 0, bytes: 0 });
    const file = fileFor(path);
    const send = (status: number, body: Buffer | string, type = 'text/plain') => {
      requests.push({ path, status, bytes: req.method === 'HEAD' ? 0 : Buffer.byteLength(body) });
      res.writeHead(status, { 'content-type': type, ...headers }).end(body);
    };
    if (file === 'PAGE') return send(200, page, 'text/html');
    const roots = [repoRoot, bundleDir, ...Object.values(mounts)];
    if (!file || !roots.some((root) => file.startsWith(root)) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'not found');
    send(200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { origin, requests, server, close: () => { server.closeAllConnections(); server.close(); } };
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (as .ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'],
  });
}

/** A detection as the test pages report it: box, score, label and the mask's RLE counts. */
export interface PageDetection { box: number[]; score: number; label: number; counts: string }

/** A page's detections against Node's: labels equal, scores within 1e-3, boxes within 0.05 px, mask IoU >= 0.98. */
export function expectSameDetections(ours: PageDetection[], expected: Detection[], what: string): void {
  expect(ours.map((d) => d.label), `${what}: labels`).to.deep.equal(expected.map((d) => d.label));
  ours.forEach((d, i) => {
    expect(Math.abs(d.score - expected[i].score), `${what}: score ${i}`).to.be.below(1e-3);
    d.box.forEach((v, k) => expect(Math.abs(v - expected[i].box[k]), `${what}: box ${i}`).to.be.below(0.05));
    const theirs = expected[i].mask as RleMask;
    const iou = rleIou([rleFrString(d.counts, ...theirs.size)], [rleFrString(theirs.counts, ...theirs.size)], [0])[0];
    expect(iou, `${what}: mask ${i}`).to.be.at.least(0.98);
  });
}

/** A user's bundled page served with `mounts`, and a Chromium to open it in; `close` undoes all three. */
export interface UserSite {
  site: Awaited<ReturnType<typeof serve>>;
  browser: Browser;
  close(): Promise<void>;
}

export async function openUserSite(mounts: Record<string, string> = {}): Promise<UserSite> {
  const bundle = await bundleUserPage();
  const site = await serve(bundle.dir, {}, mounts);
  const browser = await launchChromium().catch((e: unknown) => {
    site.close();
    bundle.remove();
    throw e;
  });
  return {
    site, browser,
    async close() {
      await browser.close();
      site.close();
      bundle.remove();
    },
  };
}

/** Page detections as the matching helper takes them, masks decoded from their RLE counts at `size` (h, w). */
export function flatPageDetections(detections: PageDetection[], size: [number, number]): FlatDetections {
  return {
    boxes: detections.flatMap((d) => d.box), scores: detections.map((d) => d.score), labels: detections.map((d) => d.label),
    masks: detections.map((d) => rleDecode(rleFrString(d.counts, ...size))),
  };
}

