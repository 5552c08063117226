import { expect } from 'chai';
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { rleFrString, rleIou } from '../../postprocess/index.js';
import { loadModel, type RleMask } from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';

const CHROMIUM = '/usr/bin/chromium';
const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json',
  '.html': 'text/html', '.png': 'image/png', '.onnx': 'application/octet-stream',
};

interface PageDetection { box: number[]; score: number; label: number; counts: string }

/**
 * The browser entry in headless Chromium (onnxruntime-web on WASM, and on WebGPU through
 * SwiftShader): the bundled model on a sample image gives the detections Node gives.
 */
describe('browser entry in headless Chromium', () => {
  let server: Server;
  let browser: Browser;
  let origin: string;
  let bundle: string;

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (as .ci/run does)`);
    const out = await build({
      entryPoints: [join(repoRoot, 'dist', 'src', 'browser.js')], bundle: true, platform: 'browser', format: 'esm',
      write: false, external: ['onnxruntime-web'], logLevel: 'silent',
    });
    bundle = out.outputFiles[0].text;
    const page = `<!doctype html><script type="importmap">{"imports":{"onnxruntime-web":"/node_modules/onnxruntime-web/dist/ort.all.bundle.min.mjs"}}</script>`;
    server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      if (path === '/resdet.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      const file = join(repoRoot, normalize(path));
      if (!file.startsWith(repoRoot) || !existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
        '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'],
    });
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  async function inPage(provider: 'wasm' | 'webgpu'): Promise<PageDetection[]> {
    const page = await browser.newPage();
    try {
      await page.goto(origin);
      return await page.evaluate(async (p) => {
        const ort = await import('onnxruntime-web');
        ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
        ort.env.wasm.numThreads = 1;
        const resdet = await import(`${location.origin}/resdet.js`);
        const model = await resdet.loadModel('/models/shapes/', { provider: p });
        const r = await model.detect('/samples/shapes-1.png', { masks: 'rle', scoreThreshold: 0.3 });
        return r.detections.map((d: { box: number[]; score: number; label: number; mask: { counts: string } }) => ({ box: d.box, score: d.score, label: d.label, counts: d.mask.counts }));
      }, provider);
    } finally {
      await page.close();
    }
  }

  for (const provider of ['wasm', 'webgpu'] as const) {
    it(`${provider}: the same detections and masks as Node on samples/shapes-1.png`, async () => {
      const node = await loadModel('shapes');
      const expected = (await node.detect(join(repoRoot, 'samples', 'shapes-1.png'), { masks: 'rle', scoreThreshold: 0.3 })).detections;
      await node.release();
      const ours = await inPage(provider);
      console.log(`      ${provider}: ${ours.length} detections in Chromium, ${expected.length} in Node`);
      expect(ours.map((d) => d.label)).to.deep.equal(expected.map((d) => d.label));
      ours.forEach((d, i) => {
        expect(Math.abs(d.score - expected[i].score)).to.be.below(1e-3);
        d.box.forEach((v, k) => expect(Math.abs(v - expected[i].box[k])).to.be.below(0.05));
      });
      ours.forEach((d, i) => {
        const theirs = expected[i].mask as RleMask;
        const iou = rleIou([rleFrString(d.counts, ...theirs.size)], [rleFrString(theirs.counts, ...theirs.size)], [0])[0];
        expect(iou, `mask ${i}`).to.be.at.least(0.98);
      });
    });
  }
});
