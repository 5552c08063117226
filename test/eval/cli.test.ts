import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { categoryIdsByName, CocoFormatError, toCocoResults } from '../../src/eval/index.js';
import type { Detection } from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';
import { cocoFixture } from './fixtures.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'eval', ...args], { encoding: 'utf8' });

describe('resdet eval', () => {
  const hand = cocoFixture('hand.json');
  const dir = mkdtempSync(join(tmpdir(), 'resdet-eval-'));
  const gtFile = join(dir, 'gt.json'), dtFile = join(dir, 'dt.json');
  writeFileSync(gtFile, JSON.stringify(hand.gt));
  writeFileSync(dtFile, JSON.stringify(hand.dt));

  it("prints pycocotools' summary for bbox and segm (results with masks evaluate both by default)", () => {
    const r = run('--annotations', gtFile, '--detections', dtFile);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`IoU metric: bbox\n${hand.bbox!.summary}\nIoU metric: segm\n${hand.segm.summary}\n`);
  });

  it('prints the 12 stats by name with --json', () => {
    const r = run('--annotations', gtFile, '--detections', dtFile, '--iou', 'bbox', '--json');
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as Record<string, { stats: number[]; metrics: Record<string, number> }>;
    expect(Object.keys(out)).to.deep.equal(['bbox']);
    out.bbox.stats.forEach((v, i) => expect(v).to.be.closeTo(hand.bbox!.stats[i], 1e-12));
    expect(out.bbox.metrics.APs).to.be.closeTo(0.3, 1e-12);
  });

  it('exits 1 naming the file and field of a detection for an unknown image', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ ...hand.dt[0], image_id: 5 }]));
    const r = run('--annotations', gtFile, '--detections', bad);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(`${bad}: [0].image_id: 5 is not an image of the ground truth ${gtFile}`);
    expect(r.stdout).to.equal('');
  });

  it('exits 1 naming a file that is not JSON, and 2 with the usage on a bad command line', () => {
    const notJson = join(dir, 'x.json');
    writeFileSync(notJson, '{');
    const r = run('--annotations', notJson, '--detections', dtFile);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(`${notJson}: (file): is not valid JSON`);
    const u = run('--annotations', gtFile);
    expect(u.status).to.equal(2);
    expect(u.stderr).to.contain('either --detections');
    expect(run('--annotations', gtFile, '--detections', dtFile, '--iou', 'keypoints').status).to.equal(2);
  });

  it("maps detect()'s detections to COCO results by class name: xywh boxes, RLE masks, unknown classes left out", () => {
    const ids = categoryIdsByName(hand.gt.categories, 'gt.json');
    const dets: Detection[] = [
      { box: [10, 20, 30, 60], score: 0.9, label: 2, className: 'dog', mask: { format: 'rle', size: [100, 100], counts: 'PPYo1' } },
      { box: [0, 0, 1, 1], score: 0.5, label: 7, className: 'zebra' },
    ];
    const dropped = new Set<string>();
    expect(toCocoResults(dets, 2, ids, dropped)).to.deep.equal([
      { image_id: 2, category_id: 2, score: 0.9, bbox: [10, 20, 20, 40], segmentation: { size: [100, 100], counts: 'PPYo1' } },
    ]);
    expect([...dropped]).to.deep.equal(['zebra']);
    expect(() => categoryIdsByName([{ id: 1 }], 'gt.json')).to.throw(CocoFormatError, /categories\[0\]\.name/);
  });
});
