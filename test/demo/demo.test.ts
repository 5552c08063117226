/**
 * The browser demo (demo/) as a visitor gets it: built by Vite from demo/vite.config.ts (as `npm
 * run demo:build` builds it), served by a plain static server, in headless Chromium (Debian's
 * chromium through playwright-core; WebGPU on SwiftShader; the fake camera). Node's cpu
 * detections on the same image are the truth, matched by the project's end-to-end rule
 * (expectSameDetections). SwiftShader runs WebGPU on the CPU, so WebGPU segments one small sample
 * once; everything else runs on WASM.
 */
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type BinaryMask, type Detection, loadModel, type Manifest, type RleMask } from '../../src/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { repoRoot } from '../helpers/reference.js';
import { expectSameDetections, type PageDetection } from '../browser/harness.js';
import { buildDemo, launchDemoChromium, listFiles, serveStatic, type StaticSite } from './site.js';

const modelDir = join(repoRoot, 'models', 'shapes');
const manifest = JSON.parse(readFileSync(join(modelDir, 'resdet.json'), 'utf8')) as Manifest;
/** The page's palette and mask alpha (demo/src/draw.ts), to predict the drawn pixels. */
const PALETTE = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]];
const MASK_ALPHA = 0.45;

interface CocoResult { image_id: number; category_id: number; bbox: number[]; score: number; segmentation: { size: [number, number]; counts: string }; area: number }

/** A page of the demo in a fresh browser context (empty Cache API), with its console errors collected. */
interface DemoPage { context: BrowserContext; page: Page; consoleErrors: string[] }

describe('the browser demo, built by Vite and served statically, in headless Chromium', function () {
  this.timeout(900_000);
  let browser: Browser;
  let outDir: string;
  let work: string;
  let site: StaticSite;
  /** Node's cpu detections with detect's defaults (the page's default thresholds), by sample. */
  const node: Record<string, { rle: Detection[]; binary: Detection[] }> = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'resdet-demo-'));
    outDir = join(work, 'dist');
    await buildDemo(outDir);
    site = await serveStatic(outDir);
    const model = await loadModel('shapes');
    for (const name of ['shapes-1.png', 'shapes-3.png']) {
      const image = join(repoRoot, 'samples', name);
      node[name] = { rle: (await model.detect(image, { masks: 'rle' })).detections, binary: (await model.detect(image)).detections };
    }
    await model.release();
    browser = await launchDemoChromium();
  });
  after(async () => {
    await browser?.close();
    site?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function open(query: string): Promise<DemoPage> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['camera'] });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    // onnxruntime-web prints its runtime's own log through console.error; '[W:onnxruntime:' lines are
    // its warnings (e.g. shape ops placed on the CPU beside the WebGPU provider), not errors.
    page.on('console', (m) => { if (m.type() === 'error' && !/\[W:onnxruntime:/.test(m.text())) consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.goto(`${site.origin}/${query}`);
    return { context, page, consoleErrors };
  }

  const runs = (page: Page) => page.locator('#runs').textContent().then(Number);

  /** Waits until the page has made `n` network runs; an error shown in the page fails at once, with its text. */
  async function waitForRuns(page: Page, n: number, timeout = 120_000): Promise<void> {
    await page.waitForFunction((k) => Number(document.getElementById('runs')!.textContent) >= k || document.getElementById('errors')!.children.length > 0, n, { timeout });
    expect(await page.locator('#errors').textContent(), 'errors shown in the page').to.equal('');
    await page.waitForFunction(() => document.body.dataset.busy === 'false');
  }

  /** Clicks a download button: the file's bytes. */
  async function downloaded(page: Page, button: string): Promise<{ name: string; bytes: Buffer }> {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    return { name: download.suggestedFilename(), bytes: readFileSync((await download.path())!) };
  }

  /** The COCO JSON the Export button downloads, as the harness compares detections. */
  async function cocoDetections(page: Page): Promise<{ name: string; results: CocoResult[]; detections: PageDetection[] }> {
    const { name, bytes } = await downloaded(page, '#export-coco');
    const results = JSON.parse(bytes.toString('utf8')) as CocoResult[];
    const detections = results.map((r) => ({ box: [r.bbox[0], r.bbox[1], r.bbox[0] + r.bbox[2], r.bbox[1] + r.bbox[3]], score: r.score, label: r.category_id, counts: r.segmentation.counts }));
    return { name, results, detections };
  }

  /**
   * The canvas as the screen shows it (in 1:1 mode: one canvas pixel per screen pixel), RGB bytes.
   * The page's layout can put the canvas at a fractional offset, which Chromium snaps to the
   * nearest pixel: the clip is the rounded box.
   */
  async function canvasScreenshot(page: Page): Promise<{ rgb: Uint8Array; width: number; height: number }> {
    await page.locator('#canvas').scrollIntoViewIfNeeded();
    const box = (await page.locator('#canvas').boundingBox())!;
    const png = await page.screenshot({ clip: { x: Math.round(box.x), y: Math.round(box.y), width: Math.round(box.width), height: Math.round(box.height) } });
    const { rgb, width, height } = await decodeImage(png);
    return { rgb, width, height };
  }

  /**
   * Every pixel of `shot` against the colour the detections say: the image blended with each
   * covering mask's colour (lowest score first), or the image itself outside every mask. Box
   * outlines and label tabs are left out (text); mismatches are counted inside and outside masks.
   */
  function compareWithDetections(shot: { rgb: Uint8Array; width: number; height: number }, image: { rgb: Uint8Array; width: number; height: number }, detections: Detection[]) {
    const { width, height } = image;
    const skip = new Uint8Array(width * height);
    const label = 13 * 1.25 + 2;
    const mark = (x0: number, y0: number, x1: number, y1: number) => {
      for (let y = Math.max(0, Math.floor(y0)); y < Math.min(height, Math.ceil(y1)); y++) for (let x = Math.max(0, Math.floor(x0)); x < Math.min(width, Math.ceil(x1)); x++) skip[y * width + x] = 1;
    };
    for (const d of detections) {
      const [x1, y1, x2, y2] = d.box;
      for (const [a, b, c, e] of [[x1, y1, x2, y1], [x1, y2, x2, y2], [x1, y1, x1, y2], [x2, y1, x2, y2]]) mark(a - 3, b - 3, c + 3, e + 3);
      const top = y1 - label >= 0 ? y1 - label : y1;
      const left = Math.min(Math.max(0, x1), width - 140);
      mark(left - 2, top - 2, left + 140, top + label + 2);
    }
    const expected = Float64Array.from(image.rgb);
    const inMask = new Uint8Array(width * height);
    detections.map((d, i) => [d, i] as const).reverse().forEach(([d, i]) => {
      const m = d.mask as BinaryMask;
      for (let r = 0; r < m.height; r++) {
        for (let c = 0; c < m.width; c++) {
          if (!m.data[r * m.width + c]) continue;
          const p = (m.top + r) * width + m.left + c;
          inMask[p] = 1;
          for (let k = 0; k < 3; k++) expected[3 * p + k] = Math.round(expected[3 * p + k] * (1 - MASK_ALPHA) + PALETTE[i % PALETTE.length][k] * MASK_ALPHA);
        }
      }
    });
    const count = { inside: 0, insideWrong: 0, outside: 0, outsideWrong: 0 };
    for (let p = 0; p < width * height; p++) {
      if (skip[p]) continue;
      const wrong = [0, 1, 2].some((k) => Math.abs(shot.rgb[3 * p + k] - expected[3 * p + k]) > 3);
      if (inMask[p]) { count.inside++; count.insideWrong += Number(wrong); } else { count.outside++; count.outsideWrong += Number(wrong); }
    }
    return count;
  }

  describe('on WASM, in one visit', () => {
    let visit: DemoPage;
    before(async () => {
      visit = await open('?provider=wasm');
      await waitForRuns(visit.page, 1);
    });
    after(async () => visit?.context.close());

    it('the static build holds the page, its bundle, onnxruntime-web\'s WASM and WebGPU files, the bundled model and the samples', () => {
      const files = [...listFiles(outDir).keys()];
      expect(files).to.include.members(['index.html', 'models/shapes/resdet.json', ...Object.values(manifest.files).map((f) => `models/shapes/${f.path}`), 'samples/shapes-1.png', 'samples/shapes-4.png']);
      const wasm = files.filter((f) => f.endsWith('.wasm')).sort();
      expect(wasm).to.have.length(2);
      expect(wasm[0]).to.match(/^assets\/ort-wasm-simd-threaded-[\w-]{8}\.wasm$/);
      expect(wasm[1]).to.match(/^assets\/ort-wasm-simd-threaded\.asyncify-[\w-]{8}\.wasm$/);
    });

    it('loads with no console errors, segments the first sample on its own, and says which model, classes and provider', async () => {
      const { page, consoleErrors } = visit;
      await waitForRuns(page, 1);
      expect(consoleErrors, 'console errors').to.deep.equal([]);
      expect(await page.locator('#model-name').textContent()).to.equal('shapes (bundled)');
      expect(await page.locator('#model-network').textContent()).to.match(/^Mask R-CNN, custom ResNet-FPN/);
      expect(await page.locator('#model-classes li').allTextContents()).to.deep.equal(manifest.classes.slice(1));
      expect(await page.locator('#model-provider').textContent()).to.match(/^WASM \(as asked\)$/);
      expect(await page.locator('#model-load').textContent()).to.match(/^\d+(\.\d+)? m?s \(10\.0 MB downloaded/);
      expect(await page.locator('#status').textContent()).to.match(/^shapes-1\.png: \d+ detections in .* on WASM\.$/);
      const stages = await page.locator('#timings dd').evaluateAll((dds) => dds.map((d) => (d as HTMLElement).dataset.stage));
      expect(stages).to.deep.equal(['decode', 'transform', 'backbone', 'rpn', 'roiHeads', 'masks', 'postprocess', 'total', 'onnxRuntime', 'load']);
      expect(await page.locator('#detections tbody tr').count()).to.equal(node['shapes-1.png'].rle.length);
    });

    it("the COCO JSON download equals Node's cpu detections (labels, scores, boxes, RLE masks: the end-to-end rule); the PNG download is the annotated image", async () => {
      const { page } = visit;
      expect(await page.locator('#export-coco').textContent()).to.include('COCO');
      const { name, results, detections } = await cocoDetections(page);
      expect(name).to.equal('shapes-1.coco.json');
      expect(Object.keys(results[0]).sort()).to.deep.equal(['area', 'bbox', 'category_id', 'image_id', 'score', 'segmentation']);
      expectSameDetections(detections, node['shapes-1.png'].rle, 'COCO JSON from the demo (WASM)');
      const png = await downloaded(page, '#export-png');
      expect(png.name).to.equal('shapes-1.annotated.png');
      const decoded = await decodeImage(png.bytes);
      expect([decoded.width, decoded.height]).to.deep.equal([256, 256]);
    });

    it('a screenshot has mask colour where the detections say, and the image\'s own pixels elsewhere', async () => {
      const { page } = visit;
      await page.mouse.move(0, 0);
      await page.check('#actual-size');
      const shot = await canvasScreenshot(page);
      expect([shot.width, shot.height]).to.deep.equal([256, 256]);
      const image = await decodeImage(join(repoRoot, 'samples', 'shapes-1.png'));
      const c = compareWithDetections(shot, image, node['shapes-1.png'].binary);
      console.log(`      screenshot: ${c.inside} mask pixels (${c.insideWrong} off), ${c.outside} others (${c.outsideWrong} off)`);
      expect(c.inside, 'mask pixels compared').to.be.above(3000);
      expect(c.outside, 'other pixels compared').to.be.above(20_000);
      expect(c.insideWrong / c.inside, 'mask pixels without the mask colour').to.be.below(0.01);
      expect(c.outsideWrong / c.outside, 'pixels coloured outside every mask').to.be.below(0.002);
    });

    it('the score and mask sliders (by keyboard) change what is drawn without running the network again', async () => {
      const { page } = visit;
      const before = { runs: await runs(page), shot: await canvasScreenshot(page), rows: await page.locator('#detections tbody tr').count() };
      const areas = async () => (await page.locator('#detections tbody tr td:nth-child(4)').allTextContents()).map(Number);
      const areasBefore = await areas();
      await page.focus('#score');
      for (let i = 0; i < 40; i++) await page.keyboard.press('ArrowRight'); // 0.50 -> 0.90
      expect(await page.locator('#score-value').textContent()).to.equal('0.90');
      const high = node['shapes-1.png'].rle.filter((d) => d.score >= 0.9).length;
      expect(high).to.be.below(before.rows);
      expect(await page.locator('#detections tbody tr').count()).to.equal(high);
      const afterScore = await canvasScreenshot(page);
      expect(Buffer.from(afterScore.rgb).equals(Buffer.from(before.shot.rgb)), 'the canvas changed').to.equal(false);
      for (let i = 0; i < 40; i++) await page.keyboard.press('ArrowLeft');
      await page.focus('#mask-threshold');
      for (let i = 0; i < 45; i++) await page.keyboard.press('ArrowRight'); // 0.50 -> 0.95
      const areasHigh = await areas();
      expect(areasHigh.every((a, i) => a <= areasBefore[i]) && areasHigh.some((a, i) => a < areasBefore[i]), `areas ${areasBefore} -> ${areasHigh}`).to.equal(true);
      for (let i = 0; i < 45; i++) await page.keyboard.press('ArrowLeft');
      expect(await areas()).to.deep.equal(areasBefore);
      expect(await runs(page), 'network runs').to.equal(before.runs);
    });

    it('hovering a detection in the list or on the image highlights it in both', async () => {
      const { page } = visit;
      await page.mouse.move(0, 0);
      const plain = await canvasScreenshot(page);
      await page.hover('#detections tbody tr:nth-child(2)');
      expect(await page.locator('#detections tbody tr.active').getAttribute('data-index')).to.equal('1');
      const highlighted = await canvasScreenshot(page);
      expect(Buffer.from(highlighted.rgb).equals(Buffer.from(plain.rgb)), 'the canvas changed').to.equal(false);
      // A pixel deep inside the best detection's mask: hovering it there selects its row.
      const m = node['shapes-1.png'].binary[0].mask as BinaryMask;
      let point: [number, number] | undefined;
      for (let r = 3; r < m.height - 3 && !point; r++) {
        for (let c = 3; c < m.width - 3 && !point; c++) {
          if ([-3, 0, 3].every((dy) => [-3, 0, 3].every((dx) => m.data[(r + dy) * m.width + c + dx]))) point = [m.left + c, m.top + r];
        }
      }
      const box = (await page.locator('#canvas').boundingBox())!;
      await page.mouse.move(box.x + point![0] + 0.5, box.y + point![1] + 0.5);
      expect(await page.locator('#detections tbody tr.active').getAttribute('data-index')).to.equal('0');
      await page.mouse.move(0, 0);
      expect(await page.locator('#detections tbody tr.active').count()).to.equal(0);
      // By keyboard: focusing a row highlights it.
      await page.focus('#detections tbody tr:nth-child(3)');
      expect(await page.locator('#detections tbody tr.active').getAttribute('data-index')).to.equal('2');
      await page.focus('#score');
    });

    it('the pyramid view shows P2..P6 heat maps of the image, and the channel picker changes them', async () => {
      const { page } = visit;
      const levels = page.locator('#levels figure');
      expect(await levels.evaluateAll((f) => f.map((x) => (x as HTMLElement).dataset.level))).to.deep.equal(['P2', 'P3', 'P4', 'P5', 'P6']);
      const sizes = await page.locator('#levels canvas').evaluateAll((cs) => cs.map((c) => `${(c as HTMLCanvasElement).width}x${(c as HTMLCanvasElement).height}`));
      expect(sizes).to.deep.equal(['64x64', '32x32', '16x16', '8x8', '4x4']);
      const pixels = () => page.locator('#levels canvas').first().evaluate((c) => {
        const canvas = c as HTMLCanvasElement;
        return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
      });
      const mean = await pixels();
      expect(new Set(mean).size, 'distinct values in the P2 map').to.be.above(20);
      expect(await page.locator('#channel option').count()).to.equal(1 + manifest.backbone.levels[0].channels);
      await page.selectOption('#channel', '5');
      expect(await pixels()).to.not.deep.equal(mean);
      expect(await page.locator('#levels figcaption').first().textContent()).to.include('channel 5');
      await page.selectOption('#channel', 'mean');
    });

    it('a file that is not an image shows its error in the page, and the last result stays', async () => {
      const { page } = visit;
      const before = await runs(page);
      await page.setInputFiles('#image-file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('these are not pixels') });
      await page.waitForFunction(() => document.getElementById('errors')!.children.length > 0);
      const text = await page.locator('#errors').textContent();
      expect(text).to.match(/^Opening notes\.png: ImageDecodeError \(IMAGE_DECODE\): notes\.png: not an image this browser can read/);
      expect(await page.locator('#status').textContent()).to.equal('Opening notes.png failed; see the message above.');
      expect(await runs(page)).to.equal(before);
      expect(await page.locator('#detections tbody tr').count()).to.be.above(0);
      await page.click('#errors .dismiss');
      expect(await page.locator('#errors').textContent()).to.equal('');
    });

    it('a model folder picked with the directory input loads and segments; an incompatible one is refused in the page', async () => {
      const { page } = visit;
      const broken = join(work, 'broken-shapes');
      cpSync(modelDir, broken, { recursive: true });
      writeFileSync(join(broken, 'resdet.json'), JSON.stringify({ ...manifest, classes: [...manifest.classes, 'hexagon'] }));
      await page.setInputFiles('#model-folder', broken);
      await page.waitForFunction(() => document.getElementById('errors')!.children.length > 0);
      expect(await page.locator('#errors').textContent()).to.match(/^Loading the model broken-shapes \(folder\): ModelPackageError \(MODEL_PACKAGE\): broken-shapes\/(boxHead|maskHead)\.onnx: .*class/);
      expect(await page.locator('#model-name').textContent(), 'the model in use').to.equal('shapes (bundled)');
      const mine = join(work, 'my-shapes');
      cpSync(modelDir, mine, { recursive: true });
      const before = await runs(page);
      await page.setInputFiles('#model-folder', mine);
      await waitForRuns(page, before + 1);
      expect(await page.locator('#model-name').textContent()).to.equal('my-shapes (folder)');
      expect(await page.locator('#model-load').textContent()).to.include('from local files');
      expectSameDetections((await cocoDetections(page)).detections, node['shapes-1.png'].rle, 'COCO JSON with the model from a folder');
    });

    it("the webcam's live mode runs on Chromium's fake camera for several frames, showing frames per second", async () => {
      const { page } = visit;
      const before = await runs(page);
      await page.click('#webcam');
      await page.waitForFunction(() => document.getElementById('webcam')!.getAttribute('aria-pressed') === 'true' || document.getElementById('errors')!.children.length > 0);
      expect(await page.locator('#errors').textContent()).to.equal('');
      await page.waitForFunction(() => Number(document.getElementById('frames')!.textContent) >= 4 || document.getElementById('errors')!.children.length > 0, undefined, { timeout: 120_000 });
      expect(await page.locator('#errors').textContent()).to.equal('');
      const fps = Number(await page.locator('#fps').textContent());
      const dropped = Number(await page.locator('#dropped').textContent());
      console.log(`      webcam: ${await page.locator('#live').innerText()}`);
      expect(fps).to.be.above(0);
      expect(dropped, 'frames dropped while busy (the camera runs faster than WASM segments)').to.be.above(0);
      await page.click('#webcam');
      expect(await page.locator('#webcam').getAttribute('aria-pressed')).to.equal('false');
      expect(await runs(page)).to.be.at.least(before + 4);
      const [w, h] = await page.locator('#canvas').evaluate((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
      expect([w, h], 'the canvas shows the camera frame').to.deep.equal([640, 480]);
    });
  });

  it('a converted package loaded by URL (another origin): download progress, then the Cache API; a URL without a package shows its error', async () => {
    const packages = await serveStatic(join(repoRoot, 'models'), { cors: true });
    const url = `${packages.origin}/shapes/`;
    const { context, page } = await open(`?provider=wasm&model=${encodeURIComponent(url)}`);
    try {
      await waitForRuns(page, 1);
      expect(await page.locator('#model-name').textContent()).to.equal(url);
      expect(await page.locator('#model-load').textContent()).to.match(/\(10\.0 MB downloaded, 0\.0 MB from the cache\)$/);
      expect(packages.requests.filter((r) => r.path.endsWith('.onnx')).map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
      expectSameDetections((await cocoDetections(page)).detections, node['shapes-1.png'].rle, 'COCO JSON with the model from a URL');
      packages.requests.length = 0;
      await page.fill('#model-url', url);
      await page.press('#model-url', 'Enter');
      await waitForRuns(page, 2);
      expect(await page.locator('#model-load').textContent()).to.match(/\(0\.0 MB downloaded, 10\.0 MB from the cache\)$/);
      expect(packages.requests.map((r) => r.path), 'requests of the cached load').to.deep.equal(['/shapes/resdet.json']);
      await page.fill('#model-url', `${packages.origin}/nothing/`);
      await page.press('#model-url', 'Enter');
      await page.waitForFunction(() => document.getElementById('errors')!.children.length > 0);
      expect(await page.locator('#errors').textContent()).to.match(/ModelPackageError \(MODEL_PACKAGE\): .*\/nothing\/resdet\.json: HTTP 404/);
      expect(await page.locator('#model-name').textContent(), 'the model in use').to.equal(url);
    } finally {
      await context.close();
      packages.close();
    }
  });

  it('without a WebGPU adapter, on a phone-sized screen: WebGPU asked for is an error in the page, the default falls back to WASM saying why; nothing overflows, every control is labelled', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    // As browser.test.ts does: navigator.gpu that gives no adapter.
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => ({ requestAdapter: async () => null }) }));
    const page = await context.newPage();
    try {
      await page.goto(`${site.origin}/?provider=webgpu`);
      await page.waitForFunction(() => document.getElementById('errors')!.children.length > 0);
      expect(await page.locator('#errors').textContent()).to.match(/^Loading the model shapes \(bundled\): ProviderUnavailableError \(PROVIDER_UNAVAILABLE\): provider 'webgpu': navigator\.gpu\.requestAdapter\(\) gave no adapter/);
      await page.selectOption('#provider', 'auto');
      await waitForRuns(page, 1);
      expect(await page.locator('#model-provider').textContent()).to.equal('WASM (WebGPU unavailable: the browser gives no WebGPU adapter)');
      const [scrollWidth, innerWidth, canvasRight] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth, document.getElementById('canvas')!.getBoundingClientRect().right]);
      expect(scrollWidth, 'page width').to.be.at.most(innerWidth);
      expect(canvasRight, 'the image fits').to.be.at.most(innerWidth);
      const unlabelled = await page.locator('input, select, button, [tabindex="0"]').evaluateAll((els) => els
        .filter((e) => !((e as HTMLInputElement).labels?.length || e.getAttribute('aria-label') || e.getAttribute('title') || e.textContent!.trim()))
        .map((e) => e.outerHTML.slice(0, 80)));
      expect(unlabelled, 'controls without a label').to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it("WebGPU on SwiftShader, chosen by default: a sample segmented, the COCO JSON equal to Node's cpu detections, no console errors", async () => {
    const { context, page, consoleErrors } = await open('?image=samples/shapes-3.png');
    try {
      // SwiftShader is a CPU: one run of the sample with the fewest detections (17 for the mask head).
      await waitForRuns(page, 1, 600_000);
      expect(await page.locator('#model-provider').textContent()).to.match(/^WebGPU \(chosen: the browser gives a WebGPU adapter\)$/);
      console.log(`      webgpu: ${await page.locator('#status').textContent()}`);
      const { detections } = await cocoDetections(page);
      expectSameDetections(detections, node['shapes-3.png'].rle, 'COCO JSON from the demo (WebGPU)');
      expect(consoleErrors, 'console errors').to.deep.equal([]);
    } finally {
      await context.close();
    }
  });
});
