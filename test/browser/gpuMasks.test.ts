import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { bundleUserPage, launchChromium, serve } from './harness.js';

interface PageGpuMasks {
  detections: number;
  location: string;
  type: string;
  dims: number[];
  isGpuBuffer: boolean;
  probability: { worst: number };
  binary: { differing: number; ones: number };
}

/**
 * `detect(image, { gpuMasks })` in headless Chromium on WebGPU (SwiftShader), from the bundle a
 * user builds: `result.gpuMasks.tensor` is a `gpu-buffer` tensor whose `gpuBuffer` is a real
 * GPUBuffer (what a page draws from), and its download equals the page's own CPU masks.
 */
describe('browser entry in headless Chromium: gpuMasks on WebGPU', function () {
  this.timeout(600_000);
  let browser: Browser;
  let site: Awaited<ReturnType<typeof serve>>;
  let bundle: Awaited<ReturnType<typeof bundleUserPage>>;
  before(async () => {
    bundle = await bundleUserPage();
    site = await serve(bundle.dir);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    site?.close();
    bundle?.remove();
  });

  it('probability and binary masks pasted on the GPU: a GPUBuffer, equal to the CPU paste once downloaded', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${site.origin}/site/`);
      await page.waitForFunction(() => 'resdet' in globalThis);
      const got: PageGpuMasks = await page.evaluate(async () => {
        type Tensor = { location: string; type: string; dims: number[]; gpuBuffer?: unknown };
        type GpuMasks = { tensor: Tensor; download(): Promise<Float32Array | Uint8Array>; dispose(): void };
        type Mask = { data: Float32Array | Uint8Array };
        type Result = { detections: { mask: Mask }[]; gpuMasks: GpuMasks; width: number; height: number };
        const r = (globalThis as unknown as { resdet: { loadModel(u: string, o: object): Promise<{ detect(i: unknown, o: object): Promise<Result>; release(): Promise<void> }> } }).resdet;
        const model = await r.loadModel('/models/shapes/', { provider: 'webgpu' });
        const compare = async (form: 'probability' | 'binary') => {
          const out = await model.detect('/samples/shapes-1.png', { masks: form, maskExtent: 'image', gpuMasks: form, scoreThreshold: 0.3 });
          const pasted = await out.gpuMasks.download();
          const plane = out.width * out.height;
          let worst = 0, differing = 0, ones = 0;
          out.detections.forEach((d, i) => {
            for (let k = 0; k < plane; k++) {
              const a = pasted[i * plane + k], b = d.mask.data[k];
              worst = Math.max(worst, Math.abs(a - b));
              if (a !== b) differing++;
              ones += b;
            }
          });
          const t = out.gpuMasks.tensor;
          const info = { detections: out.detections.length, location: t.location, type: t.type, dims: t.dims, isGpuBuffer: ((g) => g !== undefined && t.gpuBuffer instanceof g)((globalThis as unknown as { GPUBuffer?: abstract new () => unknown }).GPUBuffer) };
          out.gpuMasks.dispose();
          return { info, worst, differing, ones };
        };
        const p = await compare('probability');
        const b = await compare('binary');
        await model.release();
        return { ...b.info, probability: { worst: p.worst }, binary: { differing: b.differing, ones: b.ones } };
      });
      console.log(`      Chromium webgpu: ${got.detections} masks ${got.dims.join('x')} ${got.type} on '${got.location}' (GPUBuffer: ${got.isGpuBuffer}); probability max |gpu - cpu| ${got.probability.worst.toExponential(2)}; binary ${got.binary.differing} pixels differ of ${got.binary.ones} set`);
      expect(got.detections).to.be.above(0);
      expect(got.location).to.equal('gpu-buffer');
      expect(got.type).to.equal('uint8');
      expect(got.isGpuBuffer).to.equal(true);
      expect(got.probability.worst).to.be.below(1e-5);
      expect(got.binary.ones).to.be.above(1000);
      expect(got.binary.differing).to.be.at.most(2);
    } finally {
      await page.close();
    }
  });
});
