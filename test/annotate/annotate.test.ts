/**
 * `resdet annotate` end to end on a folder of ~40 files (good images of every format and shape,
 * corrupt, truncated, empty, non-image, bombs, a too-thin image, nested and unicode names): the
 * dataset it writes loads in the project's COCO reader and in the real pycocotools, has every
 * image once with unique ids, lists each failure with its error, and YOLO / Label Studio outputs
 * read back through readers that follow each format's description.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexGroundTruth, loadResults } from '../../src/eval/dataset.js';
import { validateWithPycocotools } from '../helpers/pycocotools.js';
import { readInstances, readFailures, resdet } from './cli.js';
import { makeAnnotateFixture, type Fixture } from './fixtureFolder.js';
import { readLabelStudioConfig, readLabelStudioTasks, readYoloDataset } from './readers.js';

describe('resdet annotate: a folder of good and bad images into a dataset', function () {
  this.timeout(600_000);
  let root: string;
  let fixture: Fixture;
  let out: string;
  let run: ReturnType<typeof resdet>;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'resdet-annotate-'));
    fixture = await makeAnnotateFixture(join(root, 'images'));
    out = join(root, 'out');
    run = resdet(['annotate', fixture.dir, '--out', out, '--format', 'yolo,labelstudio', '--previews']);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('exits with 1 because some images failed, and says so in one summary line', () => {
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stdout).to.match(new RegExp(`annotate: ${fixture.good.length + fixture.bad.length} images: ${fixture.good.length} annotated, 0 already done, ${fixture.bad.length} failed, \\d+ detections`));
    expect(run.stderr).to.match(new RegExp(`${fixture.bad.length} of ${fixture.good.length + fixture.bad.length} images failed`));
    expect(run.stderr).not.to.match(/internal error|\n\s+at /);
  });

  it('has every good image once, in the stable order, with unique ids', () => {
    const instances = readInstances(out);
    const names = instances.images.map((i) => i.file_name);
    expect([...names].sort()).to.deep.equal(fixture.good.map((f) => f.path).sort());
    expect(new Set(instances.images.map((i) => i.id)).size).to.equal(instances.images.length);
    expect(new Set(instances.annotations.map((a) => a.id)).size).to.equal(instances.annotations.length);
    for (const f of fixture.good) {
      const image = instances.images.find((i) => i.file_name === f.path)!;
      expect([image.width, image.height], f.path).to.deep.equal([f.width, f.height]);
    }
    // The shapes model finds objects in the scenes: not an empty dataset.
    expect(instances.annotations.length).to.be.greaterThan(fixture.good.length);
  });

  it('lists every bad file in failures.json with its error, and only those', () => {
    const failures = readFailures(out);
    expect(failures.map((f) => f.file_name).sort()).to.deep.equal(fixture.bad.map((f) => f.path).sort());
    for (const bad of fixture.bad) {
      const f = failures.find((x) => x.file_name === bad.path)!;
      expect(f.code, bad.path).to.equal(bad.code);
      expect(f.error, bad.path).to.match(bad.error!);
      expect(f.error, bad.path).to.include(bad.path.split('/').pop()!);
    }
  });

  it('loads in the project COCO reader as ground truth and as results', () => {
    const data = JSON.parse(readFileSync(join(out, 'instances.json'), 'utf8'));
    const gt = indexGroundTruth(data, 'instances.json', 'segm');
    const results = loadResults(data.annotations, gt, 'instances.json', 'segm');
    expect(results.length).to.equal(data.annotations.length);
  });

  it('loads in pycocotools COCO(), whose masks have the areas the file states', async () => {
    const report = await validateWithPycocotools(join(out, 'instances.json'));
    const instances = readInstances(out);
    expect(report.errors).to.deep.equal([]);
    expect(report.images).to.equal(fixture.good.length);
    expect(report.annotations).to.equal(instances.annotations.length);
    expect(report.categories).to.equal(instances.categories.length);
    for (const a of report.perAnnotation) expect(a.maskArea, `annotation ${a.id}`).to.equal(a.area);
  });

  it('writes YOLO segmentation labels and Label Studio tasks that read back to the same objects', () => {
    const instances = readInstances(out);
    const names = instances.categories.map((c) => c.name);
    const perImage = (name: string) => {
      const image = instances.images.find((i) => i.file_name === name)!;
      return instances.annotations.filter((a) => a.image_id === image.id);
    };
    const yolo = readYoloDataset(join(out, 'yolo'));
    expect([...yolo.names.values()]).to.deep.equal(names);
    // gray.png and gray.jpg would share labels/gray.txt: the first keeps it, the other is left out, with a warning.
    const inYolo = instances.images.map((i) => i.file_name).filter((n) => n !== 'gray.png' && n !== 'gray.jpg');
    expect(yolo.images.map((i) => i.image.replace(/^.*?\/images\//, '')).sort()).to.deep.equal([...inYolo, 'gray.jpg'].sort());
    expect(run.stderr).to.include("yolo: gray.png left out: its label file labels/gray.txt is gray.jpg's");
    for (const { image, lines } of yolo.images) {
      const anns = perImage(image.replace(/^.*?\/images\//, ''));
      // one line per polygon part: at least one per annotation
      expect(lines.length, image).to.be.at.least(anns.length);
      expect(new Set(lines.map((l) => names[l.classIndex])), image).to.deep.equal(new Set(anns.map((a) => names[a.category_id - 1])));
    }
    const { controls } = readLabelStudioConfig(readFileSync(join(out, 'labelstudio-config.xml'), 'utf8'));
    const tasks = readLabelStudioTasks(JSON.parse(readFileSync(join(out, 'labelstudio.json'), 'utf8')), controls);
    expect(tasks.length).to.equal(instances.images.length);
    for (const task of tasks) {
      const name = decodeURIComponent(task.image.replace(/^.*[?&]d=/, ''));
      const anns = perImage(name);
      expect(task.regions.length, name).to.be.at.least(anns.length);
      expect(new Set(task.regions.map((r) => r.label)), name).to.deep.equal(new Set(anns.map((a) => names[a.category_id - 1])));
    }
  });

  it('writes a preview per good image inside --out, and never touches an input', () => {
    for (const f of fixture.good) {
      const preview = join(out, 'previews', f.path.replace(/\.[^./]+$/, '.png'));
      expect(existsSync(preview), preview).to.equal(true);
      expect(statSync(join(fixture.dir, f.path)).size, f.path).to.equal(f.bytes);
    }
  });

  it('a second run resumes: nothing redone, the same dataset', () => {
    const before = readFileSync(join(out, 'instances.json'), 'utf8');
    const again = resdet(['annotate', fixture.dir, '--out', out, '--format', 'yolo,labelstudio', '--previews']);
    expect(again.stdout).to.match(new RegExp(`: 0 annotated, ${fixture.good.length + fixture.bad.length} already done`));
    expect(JSON.parse(readFileSync(join(out, 'instances.json'), 'utf8')).annotations).to.deep.equal(JSON.parse(before).annotations);
  });

  it('refuses to resume with other options, naming them, and starts over with --restart', () => {
    const other = resdet(['annotate', fixture.dir, '--out', out, '--score', '0.7']);
    expect(other.code).to.equal(1);
    expect(other.stderr).to.match(/scoreThreshold/);
    expect(other.stderr).to.match(/--restart/);
    const restarted = resdet(['annotate', fixture.dir, '--out', out, '--score', '0.7', '--restart']);
    expect(restarted.code, restarted.stderr).to.equal(1); // the bad files still fail
    expect(restarted.stdout).to.match(new RegExp(`: ${fixture.good.length} annotated, 0 already done`));
    const higher = readInstances(out).annotations;
    expect(higher.every((a) => a.score >= 0.7)).to.equal(true);
  });

  it('answers bad command lines in one line with the usage', () => {
    const noOut = resdet(['annotate', fixture.dir]);
    expect(noOut.code).to.equal(2);
    expect(noOut.stderr).to.match(/needs --out/);
    const badShard = resdet(['annotate', fixture.dir, '--out', join(root, 'x'), '--shard', '4/3']);
    expect(badShard.code).to.equal(2);
    expect(badShard.stderr).to.match(/--shard/);
    const inside = resdet(['annotate', fixture.dir, '--out', join(fixture.dir, 'a')]);
    expect(inside.code).to.equal(1);
    expect(inside.stderr).to.match(/inside the input folder/);
  });
});
