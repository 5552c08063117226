import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { anchorsPerLocation } from '../../heads/config.js';
import { levelNamesOf, parseLevels, presets } from '../../src/convert/index.js';
import { resolveConfig } from '../../src/config.js';
import { ModelPackageError } from '../../src/modelPackage/index.js';
import { repoRoot } from '../helpers/reference.js';

/**
 * The converter's inputs that need no checkpoint: torchvision builders' presets (numbers read from
 * models/detection/faster_rcnn.py), the level names read from a backbone's outputs, `--levels` and
 * the CLI's usage errors.
 */
describe('resdet convert presets, level declarations and their parsing', () => {
  it("fasterrcnn_mobilenet_v3_large_fpn's preset: 5 sizes x 3 ratios = 15 anchors per location on 3 levels, RPN score threshold 0.05; the 320 variant's sizes", () => {
    const config = resolveConfig(presets.fasterrcnn_mobilenet_v3_large_fpn.config);
    expect(anchorsPerLocation(config.rpn)).to.deep.equal([15, 15, 15]);
    expect(config.rpn).to.include({ scoreThresh: 0.05, preNmsTopN: 1000, postNmsTopN: 1000 });
    expect(config.transform).to.include({ minSize: 800, maxSize: 1333 });
    const small = resolveConfig(presets.fasterrcnn_mobilenet_v3_large_320_fpn.config);
    expect(small.transform).to.include({ minSize: 320, maxSize: 640 });
    expect(small.rpn).to.include({ preNmsTopN: 150, postNmsTopN: 150, scoreThresh: 0.05 });
    expect(anchorsPerLocation(resolveConfig(presets.maskrcnn_resnet50_fpn.config).rpn)).to.deep.equal([3, 3, 3, 3, 3]);
  });

  it("reads level names from outputs named as torchvision's levels ('0', ..., 'pool', or 'feat0', ...), and nothing else", () => {
    expect(levelNamesOf(['feat0', 'feat1', 'pool'])).to.deep.equal(['0', '1', 'pool']);
    expect(levelNamesOf(['0', '1', '2', '3', 'pool'])).to.deep.equal(['0', '1', '2', '3', 'pool']);
    expect(levelNamesOf(['0', '1', '2'])).to.deep.equal(['0', '1', '2']);
    expect(levelNamesOf(['523', 'onnx::MaxPool_499', '524'])).to.equal(undefined);
    expect(levelNamesOf(['1', '0'])).to.equal(undefined);
    expect(levelNamesOf(['pool'])).to.equal(undefined);
  });

  it('parses --levels as name[:stride[:channels]] per output, refusing malformed items by position', () => {
    expect(parseLevels('0,1,pool', 'b.onnx')).to.deep.equal([{ name: '0', stride: undefined, channels: undefined }, { name: '1', stride: undefined, channels: undefined }, { name: 'pool', stride: undefined, channels: undefined }]);
    expect(parseLevels('0:32:256, pool:64', 'b.onnx')).to.deep.equal([{ name: '0', stride: 32, channels: 256 }, { name: 'pool', stride: 64, channels: undefined }]);
    expect(() => parseLevels('0:x', 'b.onnx')).to.throw(ModelPackageError, /b\.onnx: --levels item 1 \('0:x'\): the stride must be a positive integer, got 'x'/);
    expect(() => parseLevels('0,,1', 'b.onnx')).to.throw(ModelPackageError, /--levels item 2 \(''\) must be name\[:stride\[:channels\]\]/);
    expect(() => parseLevels('0:4:8:16', 'b.onnx')).to.throw(ModelPackageError, /item 1/);
  });

  it('the CLI refuses --levels without --backbone-onnx and malformed --anchor-sizes / --aspect-ratios as usage errors', () => {
    const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [main, 'convert', 'model.pth', '--out', 'never', ...args], { encoding: 'utf8' });
    const cases: Array<[string[], string]> = [
      [['--levels', '0,1,pool'], '--levels declares the outputs of --backbone-onnx: give both'],
      [['--anchor-sizes', '32,-64'], "--anchor-sizes must be positive numbers separated by commas, got '32,-64'"],
      [['--anchor-sizes', '[[32,64],[]]'], '--anchor-sizes as JSON must be a list of non-empty lists of positive numbers'],
      [['--anchor-sizes', '[[32'], '--anchor-sizes is neither numbers separated by commas nor a JSON list of lists'],
      [['--aspect-ratios', '0.5,one'], "--aspect-ratios must be positive numbers separated by commas, got '0.5,one'"],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr, args.join(' ')).to.contain(message);
    }
  });
});
