import { expect } from 'chai';
import { detectorVariant, familyName } from '../../src/convert/index.js';
import { validateManifest } from '../../src/modelPackage/index.js';

describe("convert tells torchvision's v1 and v2 detectors apart from the state dict", () => {
  it('v1: plain FPN, one-conv RPN head, TwoMLPHead (body FrozenBatchNorm2d, or BatchNorm2d when built untrained); v2: FPN with BatchNorm2d, two convs, conv box head', () => {
    expect(detectorVariant({ norm: 'FrozenBatchNorm2d', fpnNorm: false }, 1, 'mlp')).to.equal('v1');
    expect(detectorVariant({ norm: 'BatchNorm2d', fpnNorm: false }, 1, 'mlp')).to.equal('v1');
    expect(detectorVariant({ norm: 'BatchNorm2d', fpnNorm: true }, 2, 'conv')).to.equal('v2');
  });

  it("any other combination of FPN, RPN head and box head is 'mixed', converted as its parts say", () => {
    expect(detectorVariant({ norm: 'BatchNorm2d', fpnNorm: true }, 1, 'conv')).to.equal('mixed');
    expect(detectorVariant({ norm: 'FrozenBatchNorm2d', fpnNorm: false }, 2, 'mlp')).to.equal('mixed');
    expect(familyName(true, 'mixed', 'resnet50')).to.equal('Mask R-CNN (mixed v1/v2 layers), ResNet-50-FPN');
  });

  it('names the family as the papers do', () => {
    expect(familyName(true, 'v2', 'resnet50')).to.equal('Mask R-CNN v2, ResNet-50-FPN');
    expect(familyName(false, 'v1', 'resnext101_32x8d')).to.equal('Faster R-CNN v1, ResNeXt-101 32x8d-FPN');
    expect(familyName(false, 'v1', 'custom')).to.equal('Faster R-CNN v1, custom ResNet-FPN');
  });

  it("resdet.json's 'variant' is checked: one of v1, v2, mixed, or absent (older packages)", () => {
    const file = { path: 'a.onnx', sha256: 'a'.repeat(64), bytes: 10 };
    const manifest = {
      format: 'resdet-model', formatVersion: 1, architecture: 'fasterrcnn', classes: ['__background__', 'x'], config: {},
      backbone: { kind: 'resnet-fpn', levels: [{ name: '0', stride: 4, channels: 256 }] },
      files: { backbone: file, rpnHead: file, boxHead: file },
    };
    expect(validateManifest(manifest, 'pkg').variant).to.equal(undefined);
    expect(validateManifest({ ...manifest, variant: 'v2' }, 'pkg').variant).to.equal('v2');
    expect(() => validateManifest({ ...manifest, variant: 'v3' }, 'pkg')).to.throw(/pkg: resdet\.json field 'variant' must be one of 'v1', 'v2', 'mixed', found/);
  });
});
