/**
 * The README's claim for Vite users: no setup. A tiny app that installed resdet
 * (node_modules/resdet linked to this repository, resolved through the package's exports with the
 * 'browser' condition Vite uses for client builds) is built with Vite's own `build()` and no config
 * at all: no wasmPaths, no onnxruntime-web files copied by hand. Vite rewrites onnxruntime-web's
 * `new URL('<file>.wasm', import.meta.url)` to a hashed asset it emits, so the built site, served
 * as it is, detects as Node does; the dev server points the same URL at the package's own file.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build, createServer as createViteServer } from 'vite';
import { type Detection, loadModel } from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';
import { CHROMIUM, expectSameDetections, launchChromium, type PageDetection, type Request } from './harness.js';

const DETECT = { masks: 'rle', scoreThreshold: 0.3 } as const;
/** harness.ts's Chromium flags less the WebGPU ones: navigator.gpu gives no adapter, so resdet picks 'wasm'. */
const NO_WEBGPU = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html',
  '.png': 'image/png', '.onnx': 'application/octet-stream',
};

/** The user's app: an index.html and the main.js it loads, which puts its outcome on window. */
const APP = {
  'index.html': '<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<script type="module" src="./main.js"></script>\n',
  'main.js': `import { loadModel } from 'resdet';

try {
  const model = await loadModel('/models/shapes/');
  window.loaded = true;
  const out = await model.detect('/samples/shapes-1.png', ${JSON.stringify(DETECT)});
  window.outcome = { detections: out.detections.map((d) => ({ box: d.box, score: d.score, label: d.label, counts: d.mask.counts })) };
} catch (e) {
  window.outcome = { error: \`\${e.name}: \${e.message}\` };
}
`,
};

type Outcome = { detections: PageDetection[]; error?: undefined } | { error: string };

/** Serves the build output at / (as any static host would) and /models/, /samples/ from the repository, logging every request. */
async function serveBuild(outDir: string): Promise<{ origin: string; requests: Request[]; close(): void }> {
  const requests: Request[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const [, area] = path.split('/');
    const file = ['models', 'samples'].includes(area) ? join(repoRoot, normalize(path)) : join(outDir, normalize(path === '/' ? '/index.html' : path));
    const found = (file.startsWith(repoRoot) || file.startsWith(outDir)) && statSync(file, { throwIfNoEntry: false })?.isFile();
    const body = found ? readFileSync(file) : 'not found';
    requests.push({ path, status: found ? 200 : 404, bytes: req.method === 'HEAD' ? 0 : Buffer.byteLength(body) });
    res.writeHead(found ? 200 : 404, { 'content-type': found ? TYPES[extname(file)] ?? 'application/octet-stream' : 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { origin, requests, close: () => { server.closeAllConnections(); server.close(); } };
}

/** onnxruntime-web's .wasm and JS glue (.mjs) files the page requested. */
const ortFiles = (requests: Request[]) => requests.filter((r) => /ort-wasm/.test(r.path)).map((r) => `${r.status} ${r.path}`);

describe('a Vite app that installed resdet needs no setup: vite build and the dev server find onnxruntime-web\'s wasm', function () {
  this.timeout(300_000);
  let dir: string;
  let outDir: string;
  let site: Awaited<ReturnType<typeof serveBuild>>;
  let expected: Detection[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'resdet-vite-'));
    for (const [name, text] of Object.entries(APP)) writeFileSync(join(dir, name), text);
    // As `npm install resdet` leaves it (onnxruntime-web, its peer, beside it in this repository's node_modules).
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(repoRoot, join(dir, 'node_modules', 'resdet'), 'dir');
    // `vite build` in the app's folder, with no vite.config (configFile: false keeps any other out).
    await build({ root: dir, configFile: false, logLevel: 'silent' });
    outDir = join(dir, 'dist');
    site = await serveBuild(outDir);
    const node = await loadModel('shapes');
    expected = (await node.detect(join(repoRoot, 'samples', 'shapes-1.png'), DETECT)).detections;
    await node.release();
  });
  after(() => {
    site?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The built app opened in `browser` until it has put `until` ('outcome': detections or an
   * error; 'loaded': the model's sessions created) on window: what it put there, and the requests
   * the page made.
   */
  async function run(browser: Browser, until: 'outcome' | 'loaded'): Promise<{ outcome?: Outcome; requests: Request[] }> {
    site.requests.length = 0;
    const page = await browser.newPage();
    try {
      await page.goto(`${site.origin}/`);
      await page.waitForFunction((key) => key in window || 'outcome' in window, until, { timeout: 120_000 });
      const outcome = await page.evaluate(() => (window as unknown as { outcome?: Outcome }).outcome);
      return { outcome, requests: [...site.requests] };
    } finally {
      await page.close();
    }
  }

  it("emits the wasm and WebGPU builds' .wasm as hashed assets (never the JSEP one): Vite rewrites new URL('<file>.wasm', import.meta.url)", () => {
    const wasm = readdirSync(join(outDir, 'assets')).filter((f) => f.endsWith('.wasm')).sort();
    expect(wasm).to.have.length(2);
    expect(wasm[0]).to.match(/^ort-wasm-simd-threaded-[\w-]{8}\.wasm$/);
    expect(wasm[1]).to.match(/^ort-wasm-simd-threaded\.asyncify-[\w-]{8}\.wasm$/);
  });

  it("wasm (Chromium without WebGPU: no adapter): Node's detections; only ort-wasm-simd-threaded's asset is fetched, and nothing 404s", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: NO_WEBGPU });
    try {
      const { outcome, requests } = await run(browser, 'outcome');
      expect(outcome?.error).to.equal(undefined);
      expectSameDetections((outcome as { detections: PageDetection[] }).detections, expected, 'wasm');
      console.log(`      wasm: ${expected.length} detections; ${requests.length} requests: ${ortFiles(requests).join(', ')}`);
      expect(ortFiles(requests)).to.have.length(1);
      expect(ortFiles(requests)[0]).to.match(/^200 \/assets\/ort-wasm-simd-threaded-[\w-]{8}\.wasm$/);
      expect(requests.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.path}`)).to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });

  // Sessions only: a detect on SwiftShader takes a minute, and browser.test.ts compares WebGPU's numbers.
  it("webgpu (SwiftShader adapter): the model loads from the WebGPU build's asyncify asset, the only wasm fetched, and nothing 404s", async () => {
    const browser = await launchChromium();
    try {
      const { outcome, requests } = await run(browser, 'loaded');
      expect(outcome?.error).to.equal(undefined);
      console.log(`      webgpu: model loaded; ${requests.length} requests: ${ortFiles(requests).join(', ')}`);
      expect(ortFiles(requests)).to.have.length(1);
      expect(ortFiles(requests)[0]).to.match(/^200 \/assets\/ort-wasm-simd-threaded\.asyncify-[\w-]{8}\.wasm$/);
      expect(requests.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.path}`)).to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });

  it("the dev server, too: Node's detections, the wasm served from onnxruntime-web's own folder, nothing fails", async () => {
    // Vite's dependency optimizer pre-bundles onnxruntime-web into node_modules/.vite/deps and
    // rewrites its new URL('<file>.wasm', import.meta.url) to the file in the package.
    const server = await createViteServer({
      root: dir, configFile: false, logLevel: 'silent',
      server: {
        host: '127.0.0.1', port: 0,
        // The test's stand-ins, not setup a user needs: resdet (and onnxruntime-web beside it) lie in
        // this repository, outside the app, where an install puts them inside; the model and the
        // sample come from the server above.
        fs: { allow: [dir, repoRoot] },
        proxy: { '/models': site.origin, '/samples': site.origin },
      },
    });
    await server.listen();
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: NO_WEBGPU });
    const responses: string[] = [];
    try {
      const page = await browser.newPage();
      page.on('response', (r) => responses.push(`${r.status()} ${new URL(r.url()).pathname}`));
      page.on('requestfailed', (r) => responses.push(`failed ${new URL(r.url()).pathname}`));
      await page.goto(server.resolvedUrls!.local[0]);
      await page.waitForFunction(() => 'outcome' in window, undefined, { timeout: 120_000 });
      const outcome = await page.evaluate(() => (window as unknown as { outcome: Outcome }).outcome);
      expect(outcome.error).to.equal(undefined);
      expectSameDetections((outcome as { detections: PageDetection[] }).detections, expected, 'dev server');
      const wasm = responses.filter((r) => /\.wasm$/.test(r));
      console.log(`      dev: ${expected.length} detections; ${responses.length} responses: ${wasm.join(', ')}`);
      expect(wasm).to.have.length(1);
      expect(wasm[0]).to.match(/^200 \/.*\/node_modules\/onnxruntime-web\/dist\/ort-wasm-simd-threaded\.wasm$/);
      expect(responses.filter((r) => !/^(200|304) /.test(r))).to.deep.equal([]);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
