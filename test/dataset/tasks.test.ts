import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rleDecode, rleFrString } from '../../postprocess/rle.js';
import { datasetCommand } from '../../src/cli/dataset.js';
import { UsageError } from '../../src/cli/usage.js';
import {
  BACKGROUND_KINDS, type CocoInstances, DatasetOptionsError, EXTRA_SHAPE_CLASSES, Prng, checkDatasetOptions, datasetScene, drawScene,
  generateDataset, HEART_REACH, maskBox, rasterize, sceneDefaults,
} from '../../src/dataset/index.js';

/** The second task of the shapes dataset: other classes (--classes) and other backgrounds (--backgrounds). */
describe('shapes dataset: other classes and backgrounds', () => {
  it('leaves the default task as it was: the same pixels and masks as before these options existed', () => {
    const h = createHash('sha256');
    for (const split of ['train', 'val'] as const) {
      for (let i = 0; i < 4; i++) {
        const s = datasetScene({ seed: 1, width: 96, height: 80 }, split, i);
        h.update(s.rgb);
        for (const o of s.objects) { h.update(String(o.label)); h.update(o.mask); }
      }
    }
    // computed with the generator of the bundled model's dataset (before --classes / --backgrounds)
    expect(h.digest('hex')).to.equal('f4590740859d182a1061129f045d903b75d662ff2702619ff1713d794bc44d8a');
  });

  for (const kind of EXTRA_SHAPE_CLASSES) {
    it(`draws each ${kind} exactly where its mask is, inside its circumradius (the heart: ${HEART_REACH} of it)`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const scene = drawScene(new Prng(seed), {
          ...sceneDefaults, width: 96, height: 96, minObjects: 1, maxObjects: 1, minRadius: 0.3, maxRadius: 0.4, noise: 0, minVisibleArea: 1,
          classes: [kind], backgrounds: ['flat'],
        });
        const [shape] = scene.drawn;
        expect(shape.kind).to.equal(kind);
        const full = rasterize(shape, 96, 96);
        const bg = [scene.rgb[0], scene.rgb[1], scene.rgb[2]];
        // find a background pixel for reference: the first one outside the mask
        const first = full.indexOf(0);
        bg[0] = scene.rgb[3 * first]; bg[1] = scene.rgb[3 * first + 1]; bg[2] = scene.rgb[3 * first + 2];
        let inside = 0, changed = 0, outsideChanged = 0;
        for (let i = 0; i < full.length; i++) {
          const differs = scene.rgb[3 * i] !== bg[0] || scene.rgb[3 * i + 1] !== bg[1] || scene.rgb[3 * i + 2] !== bg[2];
          if (full[i]) { inside++; if (differs) changed++; } else if (differs) outsideChanged++;
          if (full[i]) {
            const x = i % 96, y = Math.floor(i / 96);
            expect(Math.hypot(x + 0.5 - shape.cx, y + 0.5 - shape.cy), `${kind} pixel ${x},${y}`).to.be.at.most(shape.radius * (kind === 'heart' ? HEART_REACH : 1) + 1e-9);
          }
        }
        expect(outsideChanged, `${kind} seed ${seed}: pixels painted outside the mask`).to.equal(0);
        expect(changed / inside, `${kind} seed ${seed}: mask pixels left as background`).to.be.above(0.99);
        // the drawn shape fills a plausible part of its circumscribed disc (not empty, not a disc)
        const visible = maskBox(full, 96, 96).area / (Math.PI * shape.radius * shape.radius);
        expect(visible, `${kind} area / disc area`).to.be.within(0.15, 0.9);
      }
    });
  }

  it('draws a regular hexagon of area 3 sqrt(3) / 2 r^2', () => {
    const full = rasterize({ kind: 'hexagon', cx: 200, cy: 200, radius: 150, angle: 0.3, params: [] }, 400, 400);
    const area = maskBox(full, 400, 400).area;
    expect(area / (1.5 * Math.sqrt(3) * 150 * 150)).to.be.within(0.995, 1.005);
  });

  it('writes COCO files whose categories are the chosen classes, in order, with valid annotations', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'resdet-tasks-')), 'data');
    const classes = ['crescent', 'hexagon', 'heart', 'arrow'] as const;
    const summaries = await generateDataset({ out, train: 8, val: 2, seed: 5, width: 96, height: 96, scene: { classes, backgrounds: ['blobs', 'waves', 'flat'] } });
    expect(Object.keys(summaries[0].perClass)).to.deep.equal([...classes]);
    const coco = JSON.parse(readFileSync(join(out, 'annotations', 'instances_train.json'), 'utf8')) as CocoInstances;
    expect(coco.categories).to.deep.equal(classes.map((name, i) => ({ id: i + 1, name, supercategory: 'shape' })));
    expect(coco.annotations.length).to.be.above(5);
    const seen = new Set<number>();
    for (const a of coco.annotations) {
      expect(a.category_id).to.be.within(1, classes.length);
      seen.add(a.category_id);
      const mask = rleDecode(rleFrString(a.segmentation.counts, 96, 96));
      expect(maskBox(mask, 96, 96)).to.deep.equal({ area: a.area, bbox: a.bbox });
    }
    expect(seen.size, 'every class appears in 8 images').to.be.at.least(3);
    // the scene behind image 1 names the same classes as its annotations
    const scene = datasetScene({ seed: 5, width: 96, height: 96, scene: { classes, backgrounds: ['blobs', 'waves', 'flat'] } }, 'train', 0);
    expect(coco.annotations.filter((a) => a.image_id === 1).map((a) => classes[a.category_id - 1])).to.deep.equal(scene.objects.map((o) => o.shape.kind));
  });

  it('paints every background kind without NaN and with more than one colour where it should', () => {
    for (const kind of BACKGROUND_KINDS) {
      const scene = drawScene(new Prng(11), { ...sceneDefaults, width: 64, height: 64, minObjects: 0, maxObjects: 0, noise: 0, backgrounds: [kind] });
      const colours = new Set<number>();
      for (let i = 0; i < 64 * 64; i++) colours.add((scene.rgb[3 * i] << 16) | (scene.rgb[3 * i + 1] << 8) | scene.rgb[3 * i + 2]);
      if (kind === 'flat') expect(colours.size, kind).to.equal(1);
      else if (kind === 'checkers') expect(colours.size, kind).to.equal(2);
      else expect(colours.size, kind).to.be.above(4);
    }
  });

  it('rejects unknown, repeated or no classes and backgrounds, naming them and the known ones', () => {
    const ok = { out: 'x', train: 1, val: 1, seed: 1, width: 64, height: 64 };
    expect(() => checkDatasetOptions({ ...ok, scene: { classes: ['hexagon', 'pentagon' as never] } })).to.throw(DatasetOptionsError, /classes: unknown 'pentagon'; known: circle, .*crescent/);
    expect(() => checkDatasetOptions({ ...ok, scene: { classes: ['heart', 'heart'] } })).to.throw(DatasetOptionsError, /classes: 'heart' is named twice/);
    expect(() => checkDatasetOptions({ ...ok, scene: { classes: [] } })).to.throw(DatasetOptionsError, /classes must name at least one/);
    expect(() => checkDatasetOptions({ ...ok, scene: { backgrounds: ['plaid' as never] } })).to.throw(DatasetOptionsError, /backgrounds: unknown 'plaid'; known: gradient, .*flat/);
  });

  it('reads --classes and --backgrounds from the command line', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'resdet-tasks-cli-')), 'data');
    const log = console.log;
    console.log = () => {};
    try {
      await datasetCommand(['--out', out, '--train', '2', '--val', '1', '--size', '64x64', '--classes', 'heart, arrow', '--backgrounds', 'waves']);
    } finally {
      console.log = log;
    }
    const coco = JSON.parse(readFileSync(join(out, 'annotations', 'instances_val.json'), 'utf8')) as CocoInstances;
    expect(coco.categories.map((c) => c.name)).to.deep.equal(['heart', 'arrow']);
    let error: unknown;
    try { await datasetCommand(['--out', out, '--classes', 'heart,blob']); } catch (e) { error = e; }
    expect(error).to.be.instanceOf(DatasetOptionsError);
    expect((error as Error).message).to.match(/classes: unknown 'blob'/);
    error = undefined;
    try { await datasetCommand(['--out', out, '--classes']); } catch (e) { error = e; }
    expect(error).to.be.instanceOf(UsageError);
  });
});
