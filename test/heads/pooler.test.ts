import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildBoxHead } from '../../heads/boxHead.js';
import { buildMaskHead } from '../../heads/maskHead.js';
import { poolerInputs, splitByLevel } from '../../heads/pooler.js';
import { multiScaleRoiAlign } from '../../postprocess/index.js';
import { relativeMaxDiff, runOnnx, stateDictFromArchive } from '../helpers/onnx.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getShape } from '../helpers/tensorArchive.js';

/**
 * The heads' in-graph pooling (ONNX RoiAlign per level + Gather) equals the TypeScript
 * multiScaleRoiAlign, itself held equal to torchvision's MultiScaleRoIAlign in
 * test/postprocess/multiScaleRoiAlign.test.ts.
 */
describe('in-graph MultiScaleRoIAlign (heads/pooler.ts)', () => {
  const levels = ['0', '1', '2', '3'].map((name, i) => ({ name, stride: 4 << i }));

  function setup() {
    const ref = torchReference('head_cases');
    // Image 0 of the 2-image batch of features, a 64x96 padded input.
    const features = levels.map((l) => {
      const [, c, h, w] = getShape(ref, `features/${l.name}`);
      const data = getFloat32(ref, `features/${l.name}`).slice(0, c * h * w);
      return { ...l, channels: c, data, shape: [1, c, h, w] as const };
    });
    // Boxes of every size, so that all four levels are used, in a shuffled order.
    const boxes = new Float32Array(4 * 60);
    for (let i = 0; i < 60; i++) {
      const side = 4 + ((i * 37) % 60) * 12;
      const x = (i * 13) % 60, y = (i * 7) % 40;
      boxes.set([x, y, x + side, y + side * 0.6], 4 * i);
    }
    return { sd: stateDictFromArchive(ref), features, boxes };
  }

  function feedsFor(features: ReturnType<typeof setup>['features'], boxes: Float32Array): Record<string, ort.Tensor> {
    const split = splitByLevel(boxes, levels.map((l) => l.stride), 224, 4, 1e-6);
    expect(split.rois.every((r) => r.length > 0), 'every level has RoIs').to.equal(true);
    const feeds: Record<string, ort.Tensor> = { [poolerInputs.order]: new ort.Tensor('int64', split.order, [split.order.length]) };
    features.forEach((f, i) => {
      feeds[f.name] = new ort.Tensor('float32', f.data, [...f.shape]);
      feeds[poolerInputs.rois(f.name)] = new ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
      feeds[poolerInputs.batchIndices(f.name)] = new ort.Tensor('int64', split.batchIndices[i], [split.batchIndices[i].length]);
    });
    return feeds;
  }

  it('box head: the same logits and deltas as pooling in TypeScript', async () => {
    const { sd, features, boxes } = setup();
    const pooled = multiScaleRoiAlign(features, [boxes], { outputSize: [7, 7], samplingRatio: 2 });
    const reference = await runOnnx(buildBoxHead(sd, 256).onnx, { pooled: new ort.Tensor('float32', pooled, [60, 256, 7, 7]) });
    const inGraph = await runOnnx(buildBoxHead(sd, 256, { pooler: { levels, samplingRatio: 2 } }).onnx, feedsFor(features, boxes));
    expect(relativeMaxDiff(inGraph.classLogits.data as Float32Array, reference.classLogits.data as Float32Array)).to.be.below(1e-5);
    expect(relativeMaxDiff(inGraph.boxDeltas.data as Float32Array, reference.boxDeltas.data as Float32Array)).to.be.below(1e-5);
  });

  it('mask head: the same mask probabilities as pooling in TypeScript', async () => {
    const { sd, features, boxes } = setup();
    const labels = new ort.Tensor('int64', BigInt64Array.from({ length: 60 }, (_, i) => BigInt(i % 7)), [60]);
    const pooled = multiScaleRoiAlign(features, [boxes], { outputSize: [14, 14], samplingRatio: 2 });
    const reference = await runOnnx(buildMaskHead(sd, 256).onnx, { pooled: new ort.Tensor('float32', pooled, [60, 256, 14, 14]), labels });
    const inGraph = await runOnnx(buildMaskHead(sd, 256, { pooler: { levels, samplingRatio: 2, outputSize: 14 } }).onnx, { ...feedsFor(features, boxes), labels });
    expect(relativeMaxDiff(inGraph.maskProbs.data as Float32Array, reference.maskProbs.data as Float32Array)).to.be.below(1e-5);
  });

  it('restores the RoIs\' order after splitting them by level', () => {
    const boxes = new Float32Array([0, 0, 500, 500, 0, 0, 10, 10, 0, 0, 120, 120, 0, 0, 10, 10]);
    const split = splitByLevel(boxes, [4, 8, 16, 32], 224, 4, 1e-6);
    expect(split.rois.map((r) => r.length / 4)).to.deep.equal([2, 1, 0, 1]);
    // levels 3, 0, 1, 0; concatenated: [box1, box3, box2, box0] -> order picks box0 (3), box1 (0), box2 (2), box3 (1)
    expect(Array.from(split.order, Number)).to.deep.equal([3, 0, 2, 1]);
  });
});
