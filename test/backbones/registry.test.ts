import { expect } from 'chai';
import { BackboneError, createBackboneRegistry, onnxBackbone, torchvisionFpnLevels, validateLevels } from '../../backbones/index.js';
import { torchReference } from '../helpers/reference.js';
import { type Archive, getFloat32, getShape } from '../helpers/tensorArchive.js';
import { archiveStateDict, relativeMaxDiff, runOnnx } from './helpers.js';

const BAR = 1e-4;

function modelBytes(ref: Archive): Uint8Array {
  const t = ref.tensors.get('model');
  if (!t || !(t.data instanceof Uint8Array)) throw new Error("reference archive has no uint8 'model'");
  return t.data;
}

/** Runs a backbone on the archive's images and checks every level against torchvision's. */
async function expectTorchvisionLevels(ref: Archive, onnx: Uint8Array, inputName: string, levels: readonly string[]): Promise<void> {
  const out = await runOnnx(onnx, inputName, getFloat32(ref, 'images'), getShape(ref, 'images'), levels);
  for (const level of levels) {
    expect(out.get(level)!.dims, `level ${level}`).to.deep.equal(getShape(ref, `out/${level}`));
    expect(relativeMaxDiff(getFloat32(ref, `out/${level}`), out.get(level)!.data), `level ${level}`).to.be.at.most(BAR);
  }
}

describe('backbone registry', () => {
  const ref = torchReference('backbone_onnx_export');
  const levels = torchvisionFpnLevels(ref.meta.channels as number);
  const outputNames = Object.fromEntries((ref.meta.levels as string[]).map((l, i) => [l, (ref.meta.outputs as string[])[i]]));

  it('plugs in a torch.onnx.export-ed backbone by name, its outputs renamed to the declared levels', async () => {
    const registry = createBackboneRegistry();
    registry.registerOnnx('tiny', modelBytes(ref), levels, { outputNames });
    const backbone = registry.build('tiny', new Map(), { eps: 0 });
    expect(backbone.levels).to.deep.equal(levels);
    expect(backbone.inputName).to.equal('images');
    await expectTorchvisionLevels(ref, backbone.onnx, backbone.inputName, levels.map((l) => l.name));
  });

  it("builds the same narrow BasicBlock network from its state dict under 'resnet_fpn'", async () => {
    const backbone = createBackboneRegistry().build('resnet_fpn', archiveStateDict(ref), { eps: 1e-5 });
    expect(backbone.levels).to.deep.equal(levels);
    await expectTorchvisionLevels(ref, backbone.onnx, backbone.inputName, levels.map((l) => l.name));
  });

  it('refuses a torchvision builder name the weights contradict, and unknown names', () => {
    const registry = createBackboneRegistry();
    expect(() => registry.build('resnet18', archiveStateDict(ref), { eps: 1e-5 })).to.throw(BackboneError, /resnet18.*custom \(BasicBlock \[1, 1, 1, 1\]/);
    expect(() => registry.build('vgg16', new Map(), { eps: 0 })).to.throw(BackboneError, /unknown backbone 'vgg16'.*resnet_fpn/);
  });

  it("loads a package's backbone by its kind ('onnx', 'resnet-fpn'), checked against the declared levels; an unknown kind is named", async () => {
    const registry = createBackboneRegistry();
    expect(registry.kinds()).to.deep.equal(['resnet-fpn', 'onnx']);
    const renamed = onnxBackbone(modelBytes(ref), levels, { outputNames }).onnx;
    const backbone = registry.load('onnx', renamed, levels);
    expect(backbone.levels).to.deep.equal(levels);
    await expectTorchvisionLevels(ref, backbone.onnx, backbone.inputName, levels.map((l) => l.name));
    expect(() => registry.load('onnx', modelBytes(ref), levels)).to.throw(BackboneError, /no output '0' for level '0'/);
    expect(() => registry.load('timm', renamed, levels)).to.throw(BackboneError, /unknown backbone kind 'timm' \(registered: resnet-fpn, onnx\)/);
  });

  it('declares the pyramid of returned_layers=[2, 3, 4] (strides 8..32 and pool 64), and allows a repeated stride but not a decreasing one', () => {
    expect(torchvisionFpnLevels(256, [2, 3, 4]).map((l) => `${l.name}/${l.stride}`)).to.deep.equal(['0/8', '1/16', '2/32', 'pool/64']);
    const mobilenet = [{ name: '0', stride: 32, channels: 256 }, { name: '1', stride: 32, channels: 256 }, { name: 'pool', stride: 64, channels: 256 }];
    expect(() => validateLevels(mobilenet)).not.to.throw();
    expect(() => validateLevels([mobilenet[2], mobilenet[0]])).to.throw(BackboneError, /level '0': stride 32 is smaller than the previous level's 64/);
  });

  it('checks an ONNX backbone against its level declaration, naming the level at fault', () => {
    const model = modelBytes(ref);
    expect(() => onnxBackbone(model, levels)).to.throw(BackboneError, /no output '0' for level '0'.*'feat0'/);
    const wrongChannels = levels.map((l) => ({ ...l, channels: 64 }));
    expect(() => onnxBackbone(model, wrongChannels, { outputNames })).to.throw(BackboneError, /output 'feat0'.*declared float32 with 64 channels/);
    const badStride = levels.map((l, i) => ({ ...l, stride: i === 1 ? 12 : l.stride }));
    expect(() => onnxBackbone(model, badStride, { outputNames })).to.throw(BackboneError, /level '1': stride must be a power of two/);
    expect(() => onnxBackbone(model, levels, { outputNames, inputName: 'x' })).to.throw(BackboneError, /no input 'x'.*'images'/);
    expect(() => onnxBackbone(new Uint8Array([1, 2, 3]), levels)).to.throw(BackboneError, /not a readable ONNX/);
  });
});
