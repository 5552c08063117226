import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rleDecode, rleFrString } from '../../postprocess/index.js';
import { fullImageMask, loadModel } from '../../src/index.js';
import { repoRoot } from '../helpers/reference.js';

const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const resdet = (args: string[], cwd: string) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd });
const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The command line as a newcomer meets it: defaults, inputs never overwritten, one-line errors. */
describe('resdet CLI conventions', () => {
  let work: string;
  let photo: string;
  let original: Buffer;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'resdet-cli-'));
    photo = join(work, 'photo.png');
    copyFileSync(join(repoRoot, 'samples', 'shapes-1.png'), photo);
    original = readFileSync(photo);
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('--version prints the package version', () => {
    const run = resdet(['--version'], work);
    expect(run.status).to.equal(0);
    expect(run.stdout.trim()).to.equal(`resdet ${packageVersion}`);
  });

  it('writes into resdet-out/ by default, never next to the input, and leaves the input byte-identical', () => {
    const run = resdet(['detect', 'photo.png'], work);
    expect(run.status, run.stderr).to.equal(0);
    expect(readdirSync(work).sort()).to.deep.equal(['photo.png', 'resdet-out']);
    expect(readdirSync(join(work, 'resdet-out')).sort()).to.deep.equal(['photo.json', 'photo.png']);
    expect(readFileSync(photo).equals(original)).to.equal(true);
  });

  it('refuses an output that would replace an input, under any spelling of its path, and writes nothing for it', () => {
    for (const out of ['.', work, `${work}/./`]) {
      const run = resdet(['detect', 'photo.png', '--out', out], work);
      expect(run.status).to.equal(1);
      expect(run.stderr).to.match(/photo\.png: is one of the input images; not overwritten \(choose another --out\)/);
      expect(run.stderr).to.match(/1 of 1 images failed; nothing was written/);
      expect(run.stderr).to.not.match(/\n\s+at /);
      expect(readFileSync(photo).equals(original)).to.equal(true);
      expect(existsSync(join(work, 'photo.json'))).to.equal(false);
    }
  });

  it('leaves no output folder behind when nothing was written (model refused, every image failed), and never removes one that was there', () => {
    writeFileSync(join(work, 'broken.png'), 'not an image');
    const noModel = resdet(['detect', 'photo.png', '--out', 'new/deeper', '--model', join(work, 'no-such-model')], work);
    expect(noModel.status).to.equal(1);
    expect(noModel.stderr).to.match(/no-such-model/);
    const allFailed = resdet(['detect', 'broken.png', '--out', 'out2'], work);
    expect(allFailed.status).to.equal(1);
    expect(allFailed.stderr).to.match(/nothing was written/);
    const annotateNoModel = resdet(['annotate', work, '--out', 'out3', '--model', join(work, 'no-such-model')], work);
    expect(annotateNoModel.status).to.equal(1);
    const annotateBadClass = resdet(['annotate', work, '--out', 'out4', '--classes', 'unicorn'], work);
    expect(annotateBadClass.status).to.equal(2);
    expect(annotateBadClass.stderr).to.match(/unicorn/);
    expect(readdirSync(work).sort()).to.deep.equal(['broken.png', 'photo.png']);
    mkdirSync(join(work, 'kept'));
    expect(resdet(['detect', 'broken.png', '--out', 'kept'], work).status).to.equal(1);
    expect(resdet(['annotate', work, '--out', 'kept', '--model', join(work, 'no-such-model')], work).status).to.equal(1);
    expect(existsSync(join(work, 'kept')), 'a folder the user made is never removed').to.equal(true);
  });

  it('counts what was really written when some images fail', () => {
    writeFileSync(join(work, 'broken.png'), 'not an image');
    const run = resdet(['detect', 'photo.png', 'broken.png', '--out', 'out', '--no-preview'], work);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.match(/broken\.png: not a readable image/);
    expect(run.stderr).to.match(/1 of 2 images failed; 1 written to .*out$/m);
    expect(readdirSync(join(work, 'out'))).to.deep.equal(['photo.json']);
  });

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['detect', 'photo.png', '--bogus'], /^resdet detect: Unknown option '--bogus'$/m],
    ['a score that is not a number', ['detect', 'photo.png', '--score', 'high'], /^resdet detect: --score must be a number in \[0, 1\], got 'high'$/m],
    ['a flag without its value', ['detect', 'photo.png', '--out'], /^resdet detect: Option '-o, --out <value>' argument missing$/m],
    ['threads that are not an integer', ['detect', 'photo.png', '--threads', '1.5'], /--threads must be an integer/],
    ['an unknown command', ['detetc', 'photo.png'], /^resdet: unknown command 'detetc' \(commands: annotate, convert, dataset, detect, eval, merge/m],
    ['an unknown flag of convert', ['convert', 'x.pth', '--frobnicate'], /^resdet convert: Unknown option '--frobnicate'$/m],
  ];
  for (const [what, args, message] of usageErrors) {
    it(`answers ${what} with one line and the usage line, exit code 2, no stack trace`, () => {
      const run = resdet(args, work);
      expect(run.status).to.equal(2);
      expect(run.stderr).to.match(message);
      expect(run.stderr.trim().split('\n').length).to.be.at.most(2);
      expect(run.stderr).to.not.match(/\n\s+at |TypeError|node:internal/);
      expect(readdirSync(work)).to.deep.equal(['photo.png']);
    });
  }

  it('says in one line that --out names a file, not a folder', () => {
    writeFileSync(join(work, 'taken'), 'a file');
    const run = resdet(['detect', 'photo.png', '--out', 'taken'], work);
    expect(run.status).to.equal(1);
    expect(run.stderr.trim()).to.equal(`resdet detect: ${join(work, 'taken')}: cannot create the output folder (a file is in the way, not a folder)`);
    mkdirSync(join(work, 'dir'));
    writeFileSync(join(work, 'dir', 'file'), '');
    const nested = resdet(['detect', 'photo.png', '--out', 'dir/file/sub'], work);
    expect(nested.status).to.equal(1);
    expect(nested.stderr.trim()).to.match(/dir\/file\/sub: cannot create the output folder \(a file is in the way, not a folder\)$/);
  });

  it("writes the library's detections: COCO RLE masks equal to detect()'s windows", async () => {
    const run = resdet(['detect', 'photo.png', '--out', 'out', '--no-preview'], work);
    expect(run.status, run.stderr).to.equal(0);
    const json = JSON.parse(readFileSync(join(work, 'out', 'photo.json'), 'utf8')) as {
      decoder: string; detections: Array<{ score: number; area: number; segmentation: { size: [number, number]; counts: string } }>;
    };
    expect(json.decoder).to.match(/^libpng /);
    const model = await loadModel('shapes', { threads: 2 });
    try {
      const r = await model.detect(photo);
      expect(json.detections.map((d) => d.score)).to.deep.equal(r.detections.map((d) => d.score));
      r.detections.forEach((d, i) => {
        const { size, counts } = json.detections[i].segmentation;
        const decoded = rleDecode(rleFrString(counts, size[0], size[1]));
        expect(Array.from(decoded)).to.deep.equal(Array.from(fullImageMask(d.mask!)));
        expect(json.detections[i].area).to.equal(decoded.reduce((a, v) => a + v, 0));
      });
    } finally {
      await model.release();
    }
  });
});
