import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildPasteMasks, type GpuMaskForm, pasteMasksIo } from '../../gpu/index.js';
import { serializeModel } from '../../onnx/index.js';
import { expandBoxesToInt, pasteBinaryMasksInImage, pasteMasksInImage } from '../../postprocess/pasteMasks.js';
import { Prng } from '../../src/dataset/prng.js';
import { useSwiftShader } from '../helpers/webgpu.js';

const H = 120, W = 150, M = 28, PADDING = 1;

/** Seeded 28x28 probabilities and boxes that probe every edge of the paste. */
function fixture(): { masks: Float32Array; boxes: Float32Array } {
  const rng = new Prng(28);
  const boxes: number[] = [
    -40, -30, -12, -8, // wholly outside, above-left: pastes nothing
    130, 100, 190, 160, // across the bottom-right border
    10, 10, 10.2, 10.3, // under a pixel: the expanded box is 1 pixel (h = max(.., 1))
    0, 0, 150, 120, // the whole image
    -3, 50, 40, 90, // across the left border
    60, 40, 30, 20, // inverted (x2 < x1): pastes nothing
    20, 30, 47, 57, // 28 pixels after expansion of 26: an equal-size copy in one axis
    5, 5, 400, 300, // far larger than the image
  ];
  while (boxes.length < 4 * 40) {
    const x = rng.uniform(-20, W), y = rng.uniform(-20, H), w = rng.uniform(0, 1) ** 2 * 140, h = rng.uniform(0, 1) ** 2 * 110;
    boxes.push(x, y, x + w, y + h);
  }
  const n = boxes.length / 4;
  // Smooth masks (as a mask head's sigmoid gives), plus a few exact 0 / 1 pixels.
  const masks = Float32Array.from({ length: n * M * M }, (_, i) => {
    const r = Math.floor(i / M) % M, c = i % M;
    return Math.fround(0.5 + 0.5 * Math.sin(0.3 * r + 0.2 * c + i / (M * M)) * rng.uniform(0.5, 1));
  });
  return { masks, boxes: Float32Array.from(boxes) };
}

async function gpuPaste(provider: 'cpu' | 'webgpu', form: GpuMaskForm, masks: Float32Array, boxes: Float32Array, threshold = 0.5): Promise<Float32Array | Uint8Array> {
  const session = await ort.InferenceSession.create(serializeModel(buildPasteMasks({ maskSize: M, padding: PADDING, form })), { executionProviders: [provider], logSeverityLevel: 3 });
  try {
    const n = boxes.length / 4;
    const intBoxes = Float32Array.from(expandBoxesToInt(boxes, (M + 2 * PADDING) / M));
    const feeds: Record<string, ort.Tensor> = {
      [pasteMasksIo.masks]: new ort.Tensor('float32', masks, [n, M, M]),
      [pasteMasksIo.boxes]: new ort.Tensor('float32', intBoxes, [n, 4]),
      [pasteMasksIo.imageSize]: new ort.Tensor('int64', BigInt64Array.from([BigInt(H), BigInt(W)]), [2]),
    };
    if (form === 'binary') feeds[pasteMasksIo.threshold] = new ort.Tensor('float32', Float32Array.of(threshold), [1]);
    const out = (await session.run(feeds))[pasteMasksIo.output];
    expect(out.dims).to.deep.equal([n, H, W]);
    return out.data as Float32Array | Uint8Array;
  } finally {
    await session.release();
  }
}

describe('gpu/ mask paste graph equals pasteMasksInImage (torchvision paste_masks_in_image, padding 1)', function () {
  this.timeout(300_000);
  const { masks, boxes } = fixture();
  // The foundation's bar for pasted probabilities (values in [0, 1]).
  const bar = 1e-5;

  for (const provider of ['cpu', 'webgpu'] as const) {
    it(`${provider}: probabilities of ${boxes.length / 4} masks, boxes outside, across borders, under a pixel, inverted, larger than the image`, async () => {
      if (provider === 'webgpu') useSwiftShader();
      const ref = pasteMasksInImage(masks, boxes, H, W, { padding: PADDING });
      const got = await gpuPaste(provider, 'probability', masks, boxes) as Float32Array;
      let worst = 0, outsideNonZero = 0;
      for (let i = 0; i < ref.length; i++) {
        worst = Math.max(worst, Math.abs(got[i] - ref[i]));
        if (ref[i] === 0 && got[i] !== 0) outsideNonZero++;
      }
      console.log(`      ${provider} probability: max |graph - reference| = ${worst.toExponential(2)} (bar ${bar.toExponential(0)})`);
      expect(worst).to.be.below(bar);
      expect(outsideNonZero, 'pixels the reference leaves 0 (outside the box) that the graph does not').to.equal(0);
    });

    it(`${provider}: binary masks after the threshold differ only at probability ties (|p - 0.5| < 1e-5)`, async () => {
      if (provider === 'webgpu') useSwiftShader();
      const ref = pasteBinaryMasksInImage(masks, boxes, H, W, { padding: PADDING, maskThreshold: 0.5 });
      const probabilities = pasteMasksInImage(masks, boxes, H, W, { padding: PADDING });
      const got = await gpuPaste(provider, 'binary', masks, boxes, 0.5) as Uint8Array;
      expect(got).to.be.instanceOf(Uint8Array);
      let differing = 0, untied = 0, ones = 0;
      for (let i = 0; i < ref.length; i++) {
        ones += ref[i];
        if (got[i] !== ref[i]) {
          differing++;
          if (Math.abs(probabilities[i] - 0.5) >= 1e-5) untied++;
        }
      }
      console.log(`      ${provider} binary: ${differing} of ${ref.length} pixels differ (${ones} set in the reference)`);
      expect(ones).to.be.above(10_000);
      expect(untied, 'pixels differing away from a threshold tie').to.equal(0);
      expect(differing).to.be.at.most(5);
    });
  }

  it('refuses sizes a static graph cannot take, naming them', () => {
    expect(() => buildPasteMasks({ maskSize: 0, padding: 1, form: 'binary' })).to.throw(RangeError, /maskSize/);
    expect(() => buildPasteMasks({ maskSize: 28, padding: -1, form: 'binary' })).to.throw(RangeError, /padding/);
  });
});
