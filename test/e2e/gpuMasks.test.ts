import { expect } from 'chai';
import { join } from 'node:path';
import { type BinaryMask, type Detector, fullImageMask, GpuMasksDisposedError, loadModel, type ProbabilityMask, ResdetError } from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';
import { useSwiftShader } from '../helpers/webgpu.js';

/**
 * `detect(image, { gpuMasks })` on 'webgpu' in Node (SwiftShader): the masks pasted on the GPU,
 * downloaded, equal the CPU paste (postprocess/pasteMasks, torchvision's paste_masks_in_image) of
 * the same detections, on the bundled model.
 */
describe('webgpu detector: gpuMasks (masks pasted on the GPU) equal the CPU paste (Node, SwiftShader)', function () {
  this.timeout(600_000);
  const image = join(repoRoot, 'samples', 'shapes-1.png');
  let model: Detector;
  before(async () => {
    useSwiftShader();
    model = await loadModel('shapes', { provider: 'webgpu', threads: 2 });
  });
  after(async () => model?.release());

  it("'probability': float32 [D, H, W] on the GPU, within 1e-5 of the CPU's whole-image probabilities", async () => {
    const result = await model.detect(image, { masks: 'probability', maskExtent: 'image', gpuMasks: 'probability', scoreThreshold: 0, maxDetections: 20 });
    const gpu = result.gpuMasks!;
    try {
      expect(result.provider).to.equal('webgpu');
      expect(gpu.format).to.equal('probability');
      expect(gpu.tensor.location).to.equal('gpu-buffer');
      expect(gpu.tensor.type).to.equal('float32');
      const d = result.detections.length;
      expect(d).to.be.above(0);
      expect(gpu.tensor.dims).to.deep.equal([d, result.height, result.width]);
      const pasted = await gpu.download();
      const plane = result.height * result.width;
      let worst = 0;
      result.detections.forEach((det, i) => {
        const cpu = fullImageMask(det.mask as ProbabilityMask);
        for (let k = 0; k < plane; k++) worst = Math.max(worst, Math.abs(pasted[i * plane + k] - cpu[k]));
      });
      console.log(`      ${d} masks ${result.width}x${result.height}: max |gpu - cpu| = ${worst.toExponential(2)}`);
      expect(worst).to.be.below(1e-5);
    } finally {
      gpu.dispose();
    }
  });

  it("'binary': uint8 0 / 1 [D, H, W] on the GPU, the CPU's binary masks but for exact-threshold ties", async () => {
    const result = await model.detect(image, { masks: 'binary', gpuMasks: 'binary', maskThreshold: 0.5, scoreThreshold: 0, maxDetections: 20 });
    const gpu = result.gpuMasks!;
    try {
      expect(gpu.format).to.equal('binary');
      expect(gpu.tensor.location).to.equal('gpu-buffer');
      expect(gpu.tensor.type).to.equal('uint8');
      const pasted = await gpu.download();
      const plane = result.height * result.width;
      let differing = 0, ones = 0;
      result.detections.forEach((det, i) => {
        const cpu = fullImageMask(det.mask as BinaryMask);
        for (let k = 0; k < plane; k++) {
          ones += cpu[k];
          if (pasted[i * plane + k] !== cpu[k]) differing++;
        }
      });
      console.log(`      ${result.detections.length} binary masks: ${differing} pixels differ of ${ones} set`);
      expect(ones).to.be.above(1000);
      expect(differing).to.be.at.most(2);
    } finally {
      gpu.dispose();
    }
  });

  it('no detections: an empty [0, H, W] tensor; download after dispose is a GpuMasksDisposedError', async () => {
    const result = await model.detect(image, { masks: 'none', gpuMasks: 'binary', classes: ['circle'], maxDetections: 0 });
    const gpu = result.gpuMasks!;
    expect(result.detections).to.have.length(0);
    expect(gpu.tensor.dims).to.deep.equal([0, result.height, result.width]);
    expect(await gpu.download()).to.have.length(0);
    gpu.dispose();
    gpu.dispose(); // idempotent
    const error = await gpu.download().then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(GpuMasksDisposedError);
    expect(error).to.be.instanceOf(ResdetError);
    expect((error as GpuMasksDisposedError).code).to.equal('GPU_MASKS_DISPOSED');
  });

  it("masks: 'none' skips the CPU paste but still gives gpuMasks", async () => {
    const result = await model.detect(image, { masks: 'none', gpuMasks: 'probability', maxDetections: 3 });
    try {
      expect(result.detections.every((d) => d.mask === undefined)).to.equal(true);
      expect(result.gpuMasks!.tensor.dims[0]).to.equal(result.detections.length);
    } finally {
      result.gpuMasks!.dispose();
    }
  });
});
