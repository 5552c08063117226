import { expect } from 'chai';
import { frozenBatchNormScale } from '../../backbones/index.js';
import type { HostTensor } from '../../onnx/tensor.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32 } from '../helpers/tensorArchive.js';

describe('FrozenBatchNorm2d folding', () => {
  const ref = torchReference('backbone_frozen_bn');
  const t = (name: string): HostTensor => {
    const data = getFloat32(ref, name);
    return { dtype: 'float32', shape: [data.length], data };
  };
  const bn = { weight: t('weight'), bias: t('bias'), runningMean: t('running_mean'), runningVar: t('running_var') };

  (ref.meta.eps as number[]).forEach((eps, i) => {
    it(`computes torch's float32 scale and bias bit for bit with eps ${eps}`, () => {
      const { scale, shift } = frozenBatchNormScale(bn, eps);
      expect(Array.from(scale)).to.deep.equal(Array.from(getFloat32(ref, `case${i}/scale`)));
      expect(Array.from(shift)).to.deep.equal(Array.from(getFloat32(ref, `case${i}/shift`)));
      expect(Array.from(shift)).to.deep.equal(Array.from(getFloat32(ref, `case${i}/forward0`)));
    });
  });
});
