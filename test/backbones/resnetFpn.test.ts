import { expect } from 'chai';
import { buildResNetFpn } from '../../backbones/index.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getShape } from '../helpers/tensorArchive.js';
import { archiveStateDict, relativeMaxDiff, runOnnx } from './helpers.js';

/** Parity bar: max abs difference relative to each output's max abs value. */
const BAR = 1e-4;

/** test/reference/backbone_cases.py cases: seeded random weights, randomised FrozenBatchNorm2d buffers. */
const CASES = [
  'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnext50_32x4d', 'resnext101_32x8d',
  'wide_resnet50_2', 'wide_resnet101_2', 'narrow',
];

describe('ResNet-FPN backbone built from a state dict (torchvision 0.14 resnet_fpn_backbone)', () => {
  for (const name of CASES) {
    it(`emits ${name}'s five FPN levels as torchvision computes them`, async () => {
      const ref = torchReference('backbone_cases', [name]);
      const eps = ref.meta.eps as number;
      const backbone = buildResNetFpn(archiveStateDict(ref), { eps });

      const expected = ref.meta.description as Record<string, unknown>;
      expect(backbone.description).to.include({ arch: ref.meta.arch, block: expected.block, depth: expected.depth,
        groups: expected.groups, widthPerGroup: expected.widthPerGroup, fpnChannels: ref.meta.fpnChannels });
      expect(backbone.description.layers).to.deep.equal(expected.layers);
      expect(backbone.levels.map((l) => [l.name, l.stride])).to.deep.equal([['0', 4], ['1', 8], ['2', 16], ['3', 32], ['pool', 64]]);

      const diffs: string[] = [];
      for (const input of ref.meta.inputs as string[]) {
        const names = backbone.levels.map((l) => l.name);
        const out = await runOnnx(backbone.onnx, backbone.inputName, getFloat32(ref, `${input}/images`), getShape(ref, `${input}/images`), names);
        for (const level of names) {
          const got = out.get(level)!;
          expect(got.dims, `${input} level ${level} shape`).to.deep.equal(getShape(ref, `${input}/${level}`));
          const d = relativeMaxDiff(getFloat32(ref, `${input}/${level}`), got.data);
          diffs.push(`${level} ${d.toExponential(1)}`);
          expect(d, `${name} ${input} level ${level}`).to.be.at.most(BAR);
        }
      }
      console.log(`      ${name} eps=${eps} (${(backbone.onnx.byteLength / 2 ** 20).toFixed(1)} MiB): ${diffs.join(', ')}`);
    });
  }

  it('folds FrozenBatchNorm2d with the eps it is given: 1e-5 on eps-0 weights misses the bar', async () => {
    const ref = torchReference('backbone_cases', ['resnet50']);
    expect(ref.meta.eps).to.equal(0);
    const backbone = buildResNetFpn(archiveStateDict(ref), { eps: 1e-5 });
    const input = (ref.meta.inputs as string[])[0];
    const out = await runOnnx(backbone.onnx, backbone.inputName, getFloat32(ref, `${input}/images`), getShape(ref, `${input}/images`), ['0']);
    expect(relativeMaxDiff(getFloat32(ref, `${input}/0`), out.get('0')!.data)).to.be.above(10 * BAR);
  });
});
