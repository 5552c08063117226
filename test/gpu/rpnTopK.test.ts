import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildRpnTopK, rpnTopKOutputs } from '../../gpu/index.js';
import { torchvisionDefaults } from '../../src/config.js';
import { levelRanges, selectPreNmsTopN } from '../../heads/rpn.js';
import { serializeModel } from '../../onnx/index.js';
import { Prng } from '../../src/dataset/prng.js';
import { useSwiftShader } from '../helpers/webgpu.js';

describe('gpu/ RPN top-k graph equals selectPreNmsTopN (torchvision _get_top_n_idx)', function () {
  this.timeout(300_000);
  // An 800x1056 image's grids (P2..P6), 3 anchors per location: levels with more and fewer than k.
  const gridSizes: Array<[number, number]> = [[200, 264], [100, 132], [50, 66], [25, 33], [13, 17]];
  const cfg = { ...torchvisionDefaults.rpn };
  const r = gridSizes.reduce((n, [h, w]) => n + 3 * h * w, 0);
  const rng = new Prng(5);
  const objectness = Float32Array.from({ length: r }, () => rng.uniform(-8, 8));
  const deltas = Float32Array.from({ length: 4 * r }, () => rng.uniform(-1, 1));

  for (const provider of ['cpu', 'webgpu'] as const) {
    it(`${provider}: the same anchors, logits and deltas, level by level by decreasing logit`, async () => {
      if (provider === 'webgpu') useSwiftShader();
      const session = await ort.InferenceSession.create(serializeModel(buildRpnTopK(gridSizes.length)), { executionProviders: [provider], logSeverityLevel: 3 });
      try {
        const ranges = levelRanges(gridSizes, gridSizes.map(() => 3), cfg.preNmsTopN);
        const int64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [v.length]);
        const out = await session.run({
          objectness: new ort.Tensor('float32', objectness, [1, r]), deltas: new ort.Tensor('float32', deltas, [1, r, 4]),
          starts: int64(ranges.map((x) => x.start)), ends: int64(ranges.map((x) => x.end)), k: int64(ranges.map((x) => x.k)),
        });
        const ref = selectPreNmsTopN({ objectness, deltas, gridSizes }, cfg);
        const relative = out[rpnTopKOutputs.indices].data as BigInt64Array;
        let t = 0;
        const indices = ranges.flatMap((x) => Array.from({ length: x.k }, () => x.start + Number(relative[t++])));
        expect(ranges.map((x) => x.k)).to.deep.equal([1000, 1000, 1000, 1000, 663]);
        expect(indices).to.deep.equal(Array.from(ref.indices));
        expect(Array.from(out[rpnTopKOutputs.logits].data as Float32Array)).to.deep.equal(Array.from(ref.logits));
        expect(Array.from(out[rpnTopKOutputs.deltas].data as Float32Array)).to.deep.equal(Array.from(ref.deltas));
      } finally {
        await session.release();
      }
    });
  }
});
