import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { rleArea, rleDecode, rleFrString, rleToBbox } from '../../postprocess/rle.js';
import { datasetCommand } from '../../src/cli/dataset.js';
import { UsageError } from '../../src/cli/usage.js';
import {
  type CocoInstances, DatasetOptionsError, Prng, SHAPE_CLASSES, checkDatasetOptions, datasetScene, generateDataset, maskBox, rasterize,
  sceneAnnotations,
} from '../../src/dataset/index.js';

const base = { seed: 7, width: 96, height: 80 };

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const sub of ['train', 'val', 'annotations']) {
    for (const f of readdirSync(join(dir, sub)).sort()) out.set(`${sub}/${f}`, readFileSync(join(dir, sub, f)));
  }
  return out;
}

describe('shapes dataset', () => {
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'resdet-dataset-'));
  });

  it('draws the same PRNG sequence from the same seed and a different one from another', () => {
    const a = new Prng(42), b = new Prng(42), c = new Prng(43);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).to.deep.equal(xs);
    expect(Array.from({ length: 100 }, () => c.next())).to.not.deep.equal(xs);
    expect(Math.min(...xs)).to.be.at.least(0);
    expect(Math.max(...xs)).to.be.below(1);
  });

  it('writes byte-identical PNGs and JSON for the same seed, and different ones for another seed', async () => {
    const opts = { ...base, train: 4, val: 2 };
    await generateDataset({ ...opts, out: join(work, 'a') });
    await generateDataset({ ...opts, out: join(work, 'b') });
    await generateDataset({ ...opts, seed: 8, out: join(work, 'c') });
    const a = files(join(work, 'a')), b = files(join(work, 'b')), c = files(join(work, 'c'));
    expect([...a.keys()]).to.deep.equal([...b.keys()]);
    expect(a.size).to.equal(4 + 2 + 2);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).to.equal(true);
    expect(a.get('train/000001.png')!.equals(c.get('train/000001.png')!)).to.equal(false);
  });

  it('starts a larger split with the same images as a smaller one, and never repeats train images in val', () => {
    const t0 = datasetScene(base, 'train', 0), v0 = datasetScene(base, 'val', 0);
    expect(Buffer.from(datasetScene(base, 'train', 0).rgb).equals(Buffer.from(t0.rgb))).to.equal(true);
    expect(Buffer.from(v0.rgb).equals(Buffer.from(t0.rgb))).to.equal(false);
  });

  it('stores annotations whose RLE decodes to the visible mask, with bbox and area of that mask', async () => {
    const out = join(work, 'consistent');
    await generateDataset({ ...base, train: 6, val: 0, out });
    const coco = JSON.parse(readFileSync(join(out, 'annotations', 'instances_train.json'), 'utf8')) as CocoInstances;
    expect(coco.categories.map((c) => c.name)).to.deep.equal([...SHAPE_CLASSES]);
    expect(coco.images).to.have.length(6);
    let checked = 0;
    for (let i = 0; i < 6; i++) {
      const scene = datasetScene(base, 'train', i);
      const anns = coco.annotations.filter((a) => a.image_id === i + 1);
      expect(anns.map((a) => a.category_id)).to.deep.equal(scene.objects.map((o) => o.label));
      // the PNG holds exactly the scene's pixels
      const png = await sharp(join(out, 'train', coco.images[i].file_name)).raw().toBuffer();
      expect(png.equals(Buffer.from(scene.rgb))).to.equal(true);
      anns.forEach((a, k) => {
        expect(a.segmentation.size).to.deep.equal([base.height, base.width]);
        const rle = rleFrString(a.segmentation.counts, base.height, base.width);
        expect(Buffer.from(rleDecode(rle)).equals(Buffer.from(scene.objects[k].mask))).to.equal(true);
        let area = 0, x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
        scene.objects[k].mask.forEach((m, p) => {
          if (!m) return;
          const x = p % base.width, y = Math.floor(p / base.width);
          area++; x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
        });
        expect(a.area).to.equal(area).and.to.equal(rleArea(rle));
        expect(a.bbox).to.deep.equal([x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
        expect(a.bbox).to.deep.equal(rleToBbox(rle));
        expect(a.iscrowd).to.equal(0);
        checked++;
      });
    }
    expect(checked).to.be.greaterThan(10);
    expect(new Set(coco.annotations.map((a) => a.id)).size).to.equal(coco.annotations.length);
  });

  it('annotates only the visible part: later objects occlude earlier ones, and tiny leftovers are dropped', () => {
    let occluded = 0, dropped = 0;
    for (let i = 0; i < 40; i++) {
      const scene = datasetScene({ ...base, scene: { minObjects: 4, maxObjects: 8 } }, 'train', i);
      const rasters = scene.drawn.map((s) => rasterize(s, scene.width, scene.height));
      const kept = new Map(scene.objects.map((o) => [o.order, o]));
      rasters.forEach((raster, k) => {
        // visible = own pixels minus those of every shape drawn later
        const visible = raster.map((v, p) => (v && !rasters.slice(k + 1).some((r) => r[p]) ? 1 : 0));
        const area = visible.reduce((s, v) => s + v, 0);
        const object = kept.get(k);
        if (!object) {
          expect(area, `dropped object ${k} of image ${i}`).to.be.below(40);
          dropped++;
          return;
        }
        expect(area).to.be.at.least(40);
        expect(Buffer.from(object.mask).equals(Buffer.from(visible))).to.equal(true);
        if (area < raster.reduce((s, v) => s + v, 0)) occluded++;
      });
      // visible masks never overlap
      const sum = new Uint8Array(scene.width * scene.height);
      for (const o of scene.objects) o.mask.forEach((m, p) => { sum[p] += m; });
      expect(Math.max(...sum)).to.be.at.most(1);
    }
    expect(occluded, 'partly occluded objects seen').to.be.greaterThan(10);
    expect(dropped, 'objects dropped for too small a visible part').to.be.greaterThan(0);
  });

  it('computes bbox and area from the mask alone, also for an empty mask', () => {
    const mask = new Uint8Array(5 * 4);
    expect(maskBox(mask, 5, 4)).to.deep.equal({ area: 0, bbox: [0, 0, 0, 0] });
    mask[1 * 5 + 2] = 1; mask[3 * 5 + 4] = 1;
    expect(maskBox(mask, 5, 4)).to.deep.equal({ area: 2, bbox: [2, 1, 3, 3] });
    const scene = datasetScene(base, 'train', 3);
    expect(sceneAnnotations(scene, 9, 100).map((a) => a.id)).to.deep.equal(scene.objects.map((_, k) => 100 + k));
  });

  it('rejects bad options naming the option at fault', async () => {
    const ok = { ...base, out: join(work, 'bad'), train: 1, val: 1 };
    expect(() => checkDatasetOptions({ ...ok, train: -1 })).to.throw(DatasetOptionsError, /train must be an integer >= 0, got -1/);
    expect(() => checkDatasetOptions({ ...ok, val: 1.5 })).to.throw(DatasetOptionsError, /val/);
    expect(() => checkDatasetOptions({ ...ok, seed: -3 })).to.throw(DatasetOptionsError, /seed/);
    expect(() => checkDatasetOptions({ ...ok, width: 8 })).to.throw(DatasetOptionsError, /width must be an integer in \[32, 4096\], got 8/);
    expect(() => checkDatasetOptions({ ...ok, scene: { minObjects: 5, maxObjects: 2 } })).to.throw(DatasetOptionsError, /objects per image/);
    expect(() => checkDatasetOptions({ ...ok, scene: { minRadius: 0 } })).to.throw(DatasetOptionsError, /radius/);
    // an existing dataset is not overwritten without force
    mkdirSync(join(ok.out, 'annotations'), { recursive: true });
    writeFileSync(join(ok.out, 'annotations', 'instances_train.json'), '{}');
    let error: unknown;
    try { await generateDataset(ok); } catch (e) { error = e; }
    expect(error).to.be.instanceOf(DatasetOptionsError);
    expect((error as Error).message).to.match(/instances_train\.json exists; pass force/);
    await generateDataset({ ...ok, force: true });
  });

  it('gives usage errors for bad command lines', async () => {
    const cases: [string[], RegExp][] = [
      [['--train', '3'], /needs --out/],
      [['--out', join(work, 'cli'), '--size', '256'], /--size must be WxH/],
      [['--out', join(work, 'cli'), '--train=-2'], /--train must be a non-negative integer, got '-2'/],
      [['--out', join(work, 'cli'), '--val', '2.5'], /--val must be a non-negative integer, got '2.5'/],
      [['--out', join(work, 'cli'), '--seed', 'abc'], /--seed must be a non-negative integer, got 'abc'/],
      [['--out', join(work, 'cli'), '--colour', 'red'], /colour/],
    ];
    for (const [argv, message] of cases) {
      let error: unknown;
      try { await datasetCommand(argv); } catch (e) { error = e; }
      expect(error, argv.join(' ')).to.be.instanceOf(UsageError);
      expect((error as Error).message).to.match(message);
    }
  });
});
