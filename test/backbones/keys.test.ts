import { expect } from 'chai';
import { BackboneError, StateDictError, buildResNetFpn } from '../../backbones/index.js';
import type { StateDict } from '../../onnx/tensor.js';
import { torchReference } from '../helpers/reference.js';
import { archiveStateDict } from './helpers.js';

describe('ResNet-FPN state-dict reading', () => {
  const ref = torchReference('backbone_cases', ['narrow']);
  const fresh = (): StateDict => archiveStateDict(ref);

  it('names a missing FrozenBatchNorm2d buffer', () => {
    const sd = fresh();
    sd.delete('backbone.body.layer2.0.bn2.running_var');
    expect(() => buildResNetFpn(sd, { eps: 1e-5 })).to.throw(StateDictError, /'backbone\.body\.layer2\.0\.bn2\.running_var'/);
  });

  it('names a weight of the wrong shape and the shape expected', () => {
    const sd = fresh();
    sd.set('backbone.fpn.layer_blocks.1.0.weight', { dtype: 'float32', shape: [64, 64, 1, 1], data: new Float32Array(64 * 64) });
    expect(() => buildResNetFpn(sd, { eps: 1e-5 })).to.throw(StateDictError, /'backbone\.fpn\.layer_blocks\.1\.0\.weight' has shape \[64,64,1,1\], expected \[64,64,3,3\]/);
  });

  it('names a missing FPN convolution by its new and old names', () => {
    const sd = fresh();
    sd.delete('backbone.fpn.inner_blocks.2.0.bias');
    expect(() => buildResNetFpn(sd, { eps: 1e-5 })).to.throw(StateDictError, /'backbone\.fpn\.inner_blocks\.2\.0\.bias' or 'backbone\.fpn\.inner_blocks\.2\.bias'/);
  });

  it('refuses a block that changes stride without a downsample', () => {
    const sd = fresh();
    for (const k of [...sd.keys()]) if (k.startsWith('backbone.body.layer3.0.downsample.')) sd.delete(k);
    expect(() => buildResNetFpn(sd, { eps: 1e-5 })).to.throw(BackboneError, /'backbone\.body\.layer3\.0' changes stride or channels but has no 'downsample\.0\.weight'/);
  });

  it('refuses a body without layer4, a classification ResNet and a state dict of something else', () => {
    const noLayer4 = fresh();
    for (const k of [...noLayer4.keys()]) if (k.startsWith('backbone.body.layer4.')) noLayer4.delete(k);
    expect(() => buildResNetFpn(noLayer4, { eps: 1e-5 })).to.throw(BackboneError, /no 'backbone\.body\.layer4\.0\.conv1\.weight': not a 4-layer ResNet body/);
    const w = { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) };
    expect(() => buildResNetFpn(new Map([['conv1.weight', w], ['fc.weight', w]]), { eps: 1e-5 })).to.throw(BackboneError, /classification ResNet/);
    expect(() => buildResNetFpn(new Map([['features.0.weight', w]]), { eps: 1e-5 })).to.throw(BackboneError, /no ResNet-FPN backbone.*'features\.0\.weight'/);
  });

  it('validates eps and arch options', () => {
    expect(() => buildResNetFpn(fresh(), { eps: -1 })).to.throw(BackboneError, /options\.eps/);
    expect(() => buildResNetFpn(fresh(), { eps: 1e-5, arch: 'resnet51' })).to.throw(BackboneError, /options\.arch 'resnet51' is not one of/);
    expect(() => buildResNetFpn(fresh(), { eps: 1e-5, arch: 'resnet50' })).to.throw(BackboneError, /but the weights are a custom \(Bottleneck \[2, 1, 1, 1\], depth 17, groups 2, width per group 32/);
  });
});
