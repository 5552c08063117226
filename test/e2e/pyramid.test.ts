import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DetectOptionsError, type Detector, loadModel, type Manifest } from '../../src/index.js';
import { decodeImage } from '../../src/image/decode.js';
import { resolveConfig } from '../../src/config.js';
import { transformImage } from '../../src/transform/index.js';
import { repoRoot } from '../helpers/reference.js';

/**
 * detect(image, { pyramid: true }): the backbone's feature maps (P2..P6) come back as
 * `result.pyramid`, exactly what the backbone network emits for the transformed image, with the
 * detections unchanged; without the option the result has no pyramid.
 */
describe('detect(image, { pyramid: true }) returns the backbone\'s feature maps', () => {
  const modelDir = join(repoRoot, 'models', 'shapes');
  const manifest = JSON.parse(readFileSync(join(modelDir, 'resdet.json'), 'utf8')) as Manifest;
  const image = join(repoRoot, 'samples', 'shapes-2.png');
  let model: Detector;
  before(async () => {
    model = await loadModel('shapes', { threads: 1 });
  });
  after(async () => model?.release());

  it('is absent by default, and asking for it changes no detection', async () => {
    const plain = await model.detect(image, { masks: 'rle' });
    const withPyramid = await model.detect(image, { masks: 'rle', pyramid: true });
    expect(plain).to.not.have.property('pyramid');
    expect(withPyramid.pyramid).to.be.an('object');
    expect(withPyramid.detections).to.deep.equal(plain.detections);
  });

  it('has every declared level (name, stride, channels) at the padded input size / stride, equal to the backbone network\'s outputs', async () => {
    const { pyramid } = await model.detect(image, { pyramid: true });
    const batch = transformImage(await decodeImage(image), resolveConfig(manifest.config).transform);
    expect(pyramid!.imageSize).to.deep.equal(batch.imageSize);
    expect(pyramid!.paddedSize).to.deep.equal(batch.paddedSize);
    expect(pyramid!.levels.map((l) => [l.name, l.stride, l.channels])).to.deep.equal(manifest.backbone.levels.map((l) => [l.name, l.stride, l.channels]));
    // The backbone on its own, same runtime, same input.
    const session = await ort.InferenceSession.create(join(modelDir, manifest.files.backbone.path), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
    try {
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', batch.data, [1, 3, ...batch.paddedSize]) });
      for (const level of pyramid!.levels) {
        const [hp, wp] = batch.paddedSize;
        expect([level.height, level.width], `level ${level.name}`).to.deep.equal([Math.ceil(hp / level.stride), Math.ceil(wp / level.stride)]);
        expect(level.data).to.be.instanceOf(Float32Array);
        expect(level.data.length).to.equal(level.channels * level.height * level.width);
        const expected = out[level.name].data as Float32Array;
        let worst = 0;
        for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - level.data[i]));
        expect(worst, `level ${level.name}: max |difference|`).to.be.at.most(1e-5);
      }
    } finally {
      await session.release();
    }
  });

  it('refuses a non-boolean value with DetectOptionsError naming the option', async () => {
    const error = await model.detect(image, { pyramid: 'yes' } as never).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(DetectOptionsError);
    expect((error as Error).message).to.match(/'pyramid' must be true or false, got "yes"/);
  });
});
