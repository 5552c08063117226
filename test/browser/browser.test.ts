import { expect } from 'chai';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { type Detection, loadModel } from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';
import { bundleUserPage, expectSameDetections, launchChromium, type PageDetection, type Request, serve } from './harness.js';

interface PageResult { input: string; decoder: string; detections: PageDetection[] }
interface PageError { name: string; code: string; message: string }

const DETECT = { masks: 'rle', maskExtent: 'image', scoreThreshold: 0.3 } as const;
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
/** The Content-Security-Policy the README gives: WebAssembly, fetches and thread workers from the page's origin. */
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; worker-src 'self'";


const ortFiles = (requests: Request[]) => requests.filter((r) => /ort-wasm/.test(r.path)).map((r) => `${r.status} ${r.path}`);
const megabytes = (requests: Request[]) => (requests.reduce((n, r) => n + r.bytes, 0) / 2 ** 20).toFixed(1);

/**
 * The browser entry as a user gets it: `import { loadModel } from 'resdet'` bundled by esbuild
 * (onnxruntime-web inside, no wasm paths set), the onnxruntime-web files copied next to the
 * bundle as the README says, in headless Chromium on WASM and on WebGPU (SwiftShader): the
 * bundled model on a sample gives the detections Node gives, from every kind of browser input,
 * downloading only the provider's own wasm; missing files fail with advice.
 */
describe('browser entry in headless Chromium, bundled as a user bundles it', function () {
  this.timeout(600_000);
  let browser: Browser;
  let site: Awaited<ReturnType<typeof serve>>;
  let bundle: Awaited<ReturnType<typeof bundleUserPage>>;
  let expected: Detection[];

  before(async () => {
    bundle = await bundleUserPage();
    site = await serve(bundle.dir);
    browser = await launchChromium();
    const node = await loadModel('shapes');
    expected = (await node.detect(join(repoRoot, 'samples', 'shapes-1.png'), DETECT)).detections;
    await node.release();
  });
  after(async () => {
    await browser?.close();
    site?.close();
    bundle?.remove();
  });

  /** A fresh page at `path` of `origin` with the bundle loaded (`globalThis.resdet`). */
  async function open(path: string, options: { noWebgpuAdapter?: boolean; cores?: number; origin?: string } = {}): Promise<Page> {
    const page = await browser.newPage();
    if (options.noWebgpuAdapter) {
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => ({ requestAdapter: async () => null }) }));
    }
    if (options.cores) await page.addInitScript((n) => Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => n }), options.cores);
    await page.goto(`${options.origin ?? site.origin}${path}`);
    await page.waitForFunction(() => 'resdet' in globalThis);
    return page;
  }

  it('emits one app.js and no wasm: esbuild leaves onnxruntime-web\'s new URL(..., import.meta.url) alone', () => {
    expect(bundle.files).to.deep.equal(['app.js']);
  });

  it('wasm, chosen when navigator.gpu gives no adapter: Node\'s detections from a URL, <img>, canvas, OffscreenCanvas, ImageBitmap, VideoFrame, Blob, File, bytes and ImageData; only ort-wasm-simd-threaded.wasm is fetched', async () => {
    site.requests.length = 0;
    const page = await open('/site/', { noWebgpuAdapter: true });
    try {
      const { results, explicitWebgpu } = await page.evaluate(async (options) => {
        type Result = { decoder: string; detections: { box: number[]; score: number; label: number; mask: { counts: string } }[] };
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o?: object): Promise<{ detect(i: unknown, o: object): Promise<Result> }> } }).resdet;
        const explicitWebgpu = await r.loadModel('/models/shapes/', { provider: 'webgpu' }).then(() => undefined, (e: Error & { code: string }) => ({ name: e.name, code: e.code, message: e.message }));
        const model = await r.loadModel('/models/shapes/');
        const url = '/samples/shapes-1.png';
        const blob = await (await fetch(url)).blob();
        const img = new Image();
        img.src = url;
        await img.decode();
        const canvas = Object.assign(document.createElement('canvas'), { width: img.naturalWidth, height: img.naturalHeight });
        canvas.getContext('2d')!.drawImage(img, 0, 0);
        const offscreen = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
        offscreen.getContext('2d')!.drawImage(img, 0, 0);
        const bitmap = await createImageBitmap(blob);
        const frame = new VideoFrame(bitmap, { timestamp: 0 });
        const inputs: [string, unknown][] = [
          ['URL string', url], ['HTMLImageElement', img], ['HTMLCanvasElement', canvas], ['OffscreenCanvas', offscreen],
          ['ImageBitmap', bitmap], ['VideoFrame', frame], ['Blob', blob], ['File', new File([blob], 'shapes-1.png')],
          ['Uint8Array', new Uint8Array(await blob.arrayBuffer())], ['ImageData', canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height)],
        ];
        const results = [];
        for (const [input, image] of inputs) {
          const out = await model.detect(image, options);
          results.push({ input, decoder: out.decoder, detections: out.detections.map((d) => ({ box: d.box, score: d.score, label: d.label, counts: d.mask.counts })) });
        }
        frame.close();
        return { results, explicitWebgpu };
      }, DETECT);
      expect(explicitWebgpu?.name).to.equal('ProviderUnavailableError');
      expect(explicitWebgpu?.message).to.match(/requestAdapter\(\) gave no adapter.*'wasm'/);
      for (const result of results as PageResult[]) expectSameDetections(result.detections, expected, `${result.input} (${result.decoder})`);
      console.log(`      wasm: ${results.length} inputs x ${expected.length} detections; page fetched ${megabytes(site.requests)} MiB: ${ortFiles(site.requests).join(', ')}`);
      expect(ortFiles(site.requests)).to.deep.equal(['200 /site/ort-wasm-simd-threaded.wasm']);
    } finally {
      await page.close();
    }
  });

  it('images not loaded yet, broken images and videos without a frame are ImageDecodeErrors that say so', async () => {
    const page = await open('/site/');
    try {
      const errors = await page.evaluate(async () => {
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o?: object): Promise<{ detect(i: unknown): Promise<unknown>; release(): Promise<void> }> } }).resdet;
        const model = await r.loadModel('/models/shapes/', { provider: 'wasm' });
        const pending = new Image();
        pending.src = '/hang/never.png';
        const broken = new Image();
        broken.src = '/samples/missing.png';
        await new Promise((resolve) => { broken.onerror = resolve; });
        const inputs = [pending, broken, document.createElement('video'), new Blob([new Uint8Array([1, 2, 3])])];
        const out = [];
        for (const input of inputs) out.push(await model.detect(input).then(() => undefined, (e: Error & { code: string }) => ({ name: e.name, code: e.code, message: e.message })));
        await model.release();
        return out;
      }) as PageError[];
      expect(errors.map((e) => e?.name)).to.deep.equal(Array(4).fill('ImageDecodeError'));
      expect(errors[0].message).to.match(/HTMLImageElement .*never\.png: the image has not loaded yet: await img\.decode\(\)/);
      expect(errors[1].message).to.match(/missing\.png: the image failed to load/);
      expect(errors[2].message).to.match(/HTMLVideoElement: the video has no frame yet: wait for its 'loadeddata' event/);
      expect(errors[3].message).to.match(/^Blob: not a readable image/);
    } finally {
      await page.close();
    }
  });

  it('webgpu, chosen when navigator.gpu gives an adapter: Node\'s detections and masks; only the WebGPU build\'s asyncify wasm is fetched, never the JSEP file', async () => {
    site.requests.length = 0;
    const page = await open('/site/');
    try {
      const detections = await page.evaluate(async (options) => {
        type Result = { detections: { box: number[]; score: number; label: number; mask: { counts: string } }[] };
        const r = (globalThis as unknown as { resdet: { loadModel(u: string): Promise<{ detect(i: unknown, o: object): Promise<Result> }> } }).resdet;
        const model = await r.loadModel('/models/shapes/');
        const out = await model.detect('/samples/shapes-1.png', options);
        return out.detections.map((d) => ({ box: d.box, score: d.score, label: d.label, counts: d.mask.counts }));
      }, DETECT);
      console.log(`      webgpu: ${detections.length} detections in Chromium, ${expected.length} in Node; page fetched ${megabytes(site.requests)} MiB: ${ortFiles(site.requests).join(', ')}`);
      expectSameDetections(detections, expected, 'webgpu');
      expect(ortFiles(site.requests)).to.deep.equal(['200 /site/ort-wasm-simd-threaded.asyncify.wasm']);
    } finally {
      await page.close();
    }
  });

  it('a page whose onnxruntime-web files are missing: ProviderUnavailableError naming the URL and wasmPaths; with wasmPaths the files come from that folder', async () => {
    const page = await open('/bare/', { noWebgpuAdapter: true });
    try {
      const missing = await page.evaluate(async () => {
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o?: object): Promise<unknown> } }).resdet;
        return r.loadModel('/models/shapes/').then(() => undefined, (e: Error & { code: string }) => ({ name: e.name, code: e.code, message: e.message }));
      });
      expect(missing?.name).to.equal('ProviderUnavailableError');
      expect(missing?.code).to.equal('PROVIDER_UNAVAILABLE');
      expect(missing?.message).to.include(`ort-wasm-simd-threaded.wasm was not found at ${site.origin}/bare/ort-wasm-simd-threaded.wasm (HTTP 404)`);
      expect(missing?.message).to.include('node_modules/onnxruntime-web/dist/').and.include('wasmPaths');
    } finally {
      await page.close();
    }
    site.requests.length = 0;
    const fixed = await open('/bare/');
    try {
      const n = await fixed.evaluate(async () => {
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o?: object): Promise<{ detect(i: string): Promise<{ detections: unknown[] }> }> } }).resdet;
        const model = await r.loadModel('/models/shapes/', { provider: 'wasm', wasmPaths: '/node_modules/onnxruntime-web/dist' });
        return (await model.detect('/samples/shapes-1.png')).detections.length;
      });
      expect(n).to.be.above(0);
      expect(ortFiles(site.requests)).to.deep.equal(['200 /node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs', '200 /node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm']);
    } finally {
      await fixed.close();
    }
  });

  it("a cross-origin isolated page under the README's CSP: one thread without wasmPaths (the bundle cannot be a thread worker), threads with it", async () => {
    const isolated = await serve(bundle.dir, { ...ISOLATED, 'content-security-policy': CSP });
    try {
      for (const wasmPaths of [undefined, '/site/']) {
        isolated.requests.length = 0;
        // 8 cores: onnxruntime-web would start 4 threads, whose workers would load app.js.
        const page = await open('/site/', { cores: 8, origin: isolated.origin });
        try {
          const out = await page.evaluate(async (paths) => {
            const r = (globalThis as unknown as { resdet: { loadModel(u: string, o?: object): Promise<{ detect(i: string): Promise<{ detections: unknown[] }> }> } }).resdet;
            const model = await r.loadModel('/models/shapes/', { provider: 'wasm', wasmPaths: paths });
            return { isolated: crossOriginIsolated, n: (await model.detect('/samples/shapes-1.png')).detections.length };
          }, wasmPaths);
          expect(out.isolated).to.equal(true);
          expect(out.n).to.be.above(0);
          const glue = isolated.requests.filter((r) => r.path === '/site/ort-wasm-simd-threaded.mjs').length;
          const bundles = isolated.requests.filter((r) => r.path === '/site/app.js').length;
          console.log(`      isolated, wasmPaths ${wasmPaths ?? 'unset'}: app.js fetched ${bundles}x, ort-wasm-simd-threaded.mjs ${glue}x`);
          expect(bundles, 'app.js is loaded once, by the page').to.equal(1);
          if (wasmPaths) expect(glue, 'the glue loaded by the page and by the thread workers').to.be.at.least(2);
          else expect(glue).to.equal(0);
        } finally {
          await page.close();
        }
      }
    } finally {
      isolated.close();
    }
  });

  it("a CSP without 'wasm-unsafe-eval': ProviderUnavailableError saying to add it", async () => {
    const strict = await serve(bundle.dir, { 'content-security-policy': CSP.replace(" 'wasm-unsafe-eval'", '') });
    try {
      const page = await open('/site/', { origin: strict.origin });
      try {
        const error = await page.evaluate(async () => {
          const r = (globalThis as unknown as { resdet: { loadModel(u: string, o?: object): Promise<unknown> } }).resdet;
          return r.loadModel('/models/shapes/', { provider: 'wasm' }).then(() => undefined, (e: Error) => ({ name: e.name, message: e.message }));
        });
        expect(error?.name).to.equal('ProviderUnavailableError');
        expect(error?.message).to.match(/^provider 'wasm': the page's Content-Security-Policy forbids WebAssembly: add 'wasm-unsafe-eval' to its script-src/);
      } finally {
        await page.close();
      }
    } finally {
      strict.close();
    }
  });
});
