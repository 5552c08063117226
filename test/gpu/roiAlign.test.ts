import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildGridMultiScaleRoiAlign, checkGridRoiAlignOptions } from '../../gpu/index.js';
import { splitByLevel } from '../../heads/pooler.js';
import { serializeModel } from '../../onnx/index.js';
import { type LevelFeatures, multiScaleRoiAlign } from '../../postprocess/multiScaleRoiAlign.js';
import type { Nchw } from '../../postprocess/roiAlign.js';
import { Prng } from '../../src/dataset/prng.js';
import { useSwiftShader } from '../helpers/webgpu.js';

/** A seeded 4-level pyramid (strides 4..32) over a 200x264 image, and boxes that probe every edge case. */
function fixture(channels: number): { levels: LevelFeatures[]; boxes: Float32Array } {
  const rng = new Prng(12);
  const levels = [4, 8, 16, 32].map((stride, i) => {
    const shape = [1, channels, Math.ceil(200 / stride), Math.ceil(264 / stride)] as unknown as Nchw;
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-3, 3));
    return { name: String(i), stride, channels, shape, data };
  });
  const boxes: number[] = [
    -40, -30, -12, -8, // wholly outside, above-left: every point beyond -1 counts 0
    250, 180, 300, 230, // across the bottom-right border
    10, 10, 10.2, 10.3, // smaller than a feature pixel: aligned=False's minimum size 1
    0, 0, 264, 200, // the whole image (level 5)
    -3, 50, 40, 90, // a point in [-1, 0): clamped to 0
  ];
  while (boxes.length < 4 * 80) {
    const x = rng.uniform(-20, 264), y = rng.uniform(-20, 200), w = rng.uniform(0, 1) ** 2 * 260, h = rng.uniform(0, 1) ** 2 * 200;
    boxes.push(x, y, x + w, y + h);
  }
  return { levels, boxes: Float32Array.from(boxes) };
}

async function gridPool(provider: 'cpu' | 'webgpu', levels: LevelFeatures[], boxes: Float32Array, outputSize: number): Promise<Float32Array> {
  const model = buildGridMultiScaleRoiAlign({ levels, channels: levels[0].channels, outputSize, samplingRatio: 2 });
  const session = await ort.InferenceSession.create(serializeModel(model), { executionProviders: [provider], logSeverityLevel: 3 });
  try {
    const split = splitByLevel(boxes, levels.map((l) => l.stride), 224, 4, 1e-6);
    const feeds: Record<string, ort.Tensor> = { order: new ort.Tensor('int64', split.order, [split.order.length]) };
    levels.forEach((l, i) => {
      feeds[l.name] = new ort.Tensor('float32', l.data, l.shape);
      feeds[`rois_${l.name}`] = new ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
    });
    return (await session.run(feeds)).pooled.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('gpu/ RoIAlign graph (GridSample) equals multiScaleRoiAlign (torchvision aligned=False, sampling ratio 2)', function () {
  this.timeout(300_000);
  const { levels, boxes } = fixture(8);
  // The foundation's bar for RoIAlign: 1e-5 of the feature range (6 here).
  const bar = 6e-5;

  for (const provider of ['cpu', 'webgpu'] as const) {
    for (const outputSize of [7, 14]) {
      it(`${provider}: ${boxes.length / 4} RoIs, ${outputSize}x${outputSize}, boxes outside, across the border, under a pixel, one level empty`, async () => {
        if (provider === 'webgpu') useSwiftShader();
        const ref = multiScaleRoiAlign(levels, [boxes], { outputSize: [outputSize, outputSize], samplingRatio: 2 });
        const worst = maxDifference(await gridPool(provider, levels, boxes, outputSize), ref);
        console.log(`      ${provider} ${outputSize}x${outputSize}: max |graph - reference| = ${worst.toExponential(2)} (bar ${bar.toExponential(0)})`);
        expect(worst).to.be.below(bar);
      });
    }
  }

  it('webgpu: a level with no RoIs (all boxes small) gives an empty part, not an error', async () => {
    useSwiftShader();
    const small = Float32Array.from([10, 10, 30, 30, 50, 60, 70, 75]);
    const worst = maxDifference(await gridPool('webgpu', levels, small, 7), multiScaleRoiAlign(levels, [small], { outputSize: [7, 7], samplingRatio: 2 }));
    expect(worst).to.be.below(bar);
  });

  it('refuses what a static graph cannot express: the adaptive sampling ratio (<= 0), naming the option', () => {
    expect(() => checkGridRoiAlignOptions({ outputSize: 7, samplingRatio: 0, spatialScale: 0.25 })).to.throw(RangeError, /samplingRatio must be an integer > 0/);
    expect(() => checkGridRoiAlignOptions({ outputSize: 0, samplingRatio: 2, spatialScale: 0.25 })).to.throw(RangeError, /outputSize/);
  });
});
