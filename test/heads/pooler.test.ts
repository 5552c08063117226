import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildBoxHead } from '../../heads/boxHead.js';
import { buildMaskHead } from '../../heads/maskHead.js';
import { channelsLastPooled, POOLED_CHANNELS_LAST, poolerInputs, splitByLevel, withoutPooler } from '../../heads/pooler.js';
import { toFp16Model } from '../../src/quantize/fp16.js';
import { planQdq, toInt8Model } from '../../src/quantize/int8.js';
import { readModel, serializeModel } from '../../onnx/index.js';
import { SimdRoiAlign } from '../../postprocess/roiAlignSimd.js';
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
  it('takes the pooler out of a head that pools as expected, and the head fed by the SIMD pooler gives the in-graph results', async () => {
    const { sd, features, boxes } = setup();
    const labels = new ort.Tensor('int64', BigInt64Array.from({ length: 60 }, (_, i) => BigInt(i % 7)), [60]);
    const simd = new SimdRoiAlign();
    simd.loadLevels(features);
    for (const [head, size] of [['box', 7], ['mask', 14]] as const) {
      const built = head === 'box'
        ? buildBoxHead(sd, 256, { pooler: { levels, samplingRatio: 2 } })
        : buildMaskHead(sd, 256, { pooler: { levels, samplingRatio: 2, outputSize: 14 } });
      const cut = withoutPooler(readModel(built.onnx), { levels, outputSize: size, samplingRatio: 2 });
      expect(cut, `${head} head`).to.not.equal(undefined);
      expect(cut!.graph.nodes.some((n) => n.opType === 'RoiAlign')).to.equal(false);
      expect(cut!.graph.inputs.map((i) => i.name)).to.deep.equal(head === 'box' ? ['pooled'] : ['pooled', 'labels']);
      expect(cut!.graph.inputs[0].shape).to.deep.equal(['K', 256, size, size]);
      const extra: Record<string, ort.Tensor> = head === 'mask' ? { labels } : {};
      const pooled = new ort.Tensor('float32', simd.pool([boxes], { outputSize: [size, size], samplingRatio: 2 }), [60, 256, size, size]);
      const outside = await runOnnx(serializeModel(cut!), { pooled, ...extra });
      const inGraph = await runOnnx(built.onnx, { ...feedsFor(features, boxes), ...extra });
      for (const name of Object.keys(inGraph)) {
        expect(relativeMaxDiff(outside[name].data as Float32Array, inGraph[name].data as Float32Array), `${head} head ${name}`).to.be.below(1e-5);
      }
    }
  });

  it('leaves a head whose pooler computes something else, or that has none, as it is', () => {
    const { sd } = setup();
    const model = readModel(buildBoxHead(sd, 256, { pooler: { levels, samplingRatio: 2 } }).onnx);
    const expected = { levels, outputSize: 7, samplingRatio: 2 };
    expect(withoutPooler(model, { ...expected, samplingRatio: 0 }), 'adaptive sampling').to.equal(undefined);
    expect(withoutPooler(model, { ...expected, outputSize: 14 }), 'another size').to.equal(undefined);
    expect(withoutPooler(model, { ...expected, levels: levels.slice(0, 3) }), 'fewer levels').to.equal(undefined);
    expect(withoutPooler(model, { ...expected, levels: levels.map((l) => ({ ...l, stride: l.stride * 2 })) }), 'other strides').to.equal(undefined);
    const aligned = { ...model, graph: { ...model.graph, nodes: model.graph.nodes.map((n) => (n.opType === 'RoiAlign' ? { ...n, attributes: { ...n.attributes, coordinate_transformation_mode: { type: 'string' as const, value: 'half_pixel' } } } : n)) } };
    expect(withoutPooler(aligned, expected), 'aligned=True').to.equal(undefined);
    expect(withoutPooler(readModel(buildBoxHead(sd, 256).onnx), expected), 'a head taking pooled').to.equal(undefined);
    expect(withoutPooler(model, expected)).to.not.equal(undefined);
  });
  it('feeds a box head channels-last by permuting fc6 (fp32, fp16 Cast, int8 QDQ), with the same outputs; the mask head stays on planes', async () => {
    const { sd, features, boxes } = setup();
    const simd = new SimdRoiAlign();
    simd.loadLevels(features);
    const options = { outputSize: [7, 7] as [number, number], samplingRatio: 2 };
    const expected = { levels, outputSize: 7, samplingRatio: 2 };
    const fp32 = readModel(buildBoxHead(sd, 256, { pooler: { levels, samplingRatio: 2 } }).onnx);
    const ranges = new Map(planQdq(fp32).activations.map((a) => [a, { min: -20, max: 20 }]));
    for (const [variant, model] of [['fp32', fp32], ['fp16', toFp16Model(fp32)], ['int8', toInt8Model(fp32, ranges)]] as const) {
      const planes = withoutPooler(model, expected)!;
      const last = channelsLastPooled(planes);
      expect(last, variant).to.not.equal(undefined);
      expect(last!.graph.inputs[0]).to.deep.include({ name: POOLED_CHANNELS_LAST, shape: ['K', 7, 7, 256] });
      const onPlanes = await runOnnx(serializeModel(planes), { pooled: new ort.Tensor('float32', simd.pool([boxes], options).slice(), [60, 256, 7, 7]) });
      const channelsLast = await runOnnx(serializeModel(last!), { [POOLED_CHANNELS_LAST]: new ort.Tensor('float32', simd.pool([boxes], options, true).slice(), [60, 7, 7, 256]) });
      for (const name of ['classLogits', 'boxDeltas']) {
        const [a, b] = [channelsLast[name].data as Float32Array, onPlanes[name].data as Float32Array];
        if (variant !== 'int8') {
          expect(relativeMaxDiff(a, b), `${variant} ${name}`).to.be.below(1e-5);
          continue;
        }
        // int8: fc6's sums are the same up to float order, so a requantized output may move by one
        // step of its range (40 / 255) where it sat on a rounding boundary, and only there
        const step = 40 / 255;
        const moved = a.filter((v, i) => Math.abs(v - b[i]) > 1e-6).length;
        expect(a.every((v, i) => Math.abs(v - b[i]) <= step * 1.001), `${variant} ${name}: at most one step`).to.equal(true);
        expect(moved / a.length, `${variant} ${name}: share moved`).to.be.below(0.01);
      }
    }
    const mask = withoutPooler(readModel(buildMaskHead(sd, 256, { pooler: { levels, samplingRatio: 2, outputSize: 14 } }).onnx), { ...expected, outputSize: 14 })!;
    expect(channelsLastPooled(mask), 'mask head (convolutions first)').to.equal(undefined);
  });
});
