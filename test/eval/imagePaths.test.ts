import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/reference.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const resdet = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/**
 * `resdet eval --model --images`: an annotation's file_name is found inside --images or refused by
 * name, and an image that cannot be evaluated stops eval before any AP is printed.
 */
describe('resdet eval --images: file names from the annotations', () => {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'resdet-eval-paths-'))); // messages name real paths
  const images = join(work, 'dataset', 'val');
  const outside = join(work, 'secret.txt');
  let gt: { images: Array<{ id: number; file_name: string; width: number; height: number }>; annotations: unknown[]; categories: unknown[] };
  before(() => {
    const made = resdet('dataset', '--out', join(work, 'dataset'), '--train', '0', '--val', '2', '--size', '64x64');
    expect(made.status, made.stderr).to.equal(0);
    gt = JSON.parse(readFileSync(join(work, 'dataset', 'annotations', 'instances_val.json'), 'utf8'));
    writeFileSync(outside, 'not for eval');
  });
  const withNames = (...names: string[]) => {
    const file = join(work, `gt-${names.length}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ ...gt, images: names.map((file_name, i) => ({ ...gt.images[i % gt.images.length], id: i + 1, file_name })), annotations: [] }));
    return file;
  };
  const evaluate = (gtFile: string) => resdet('eval', '--annotations', gtFile, '--model', 'shapes', '--images', images, '--iou', 'bbox');

  it('evaluates images inside --images (the dataset it wrote)', () => {
    const gtFile = join(work, 'dataset', 'annotations', 'instances_val.json');
    const r = evaluate(gtFile);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Average Precision/);
  });

  it('refuses a file_name that climbs out of --images, naming images[i].file_name, before any AP', () => {
    const gtFile = withNames('000001.png', '../../secret.txt');
    const r = evaluate(gtFile);
    expect(r.status).to.equal(1);
    expect(r.stderr.trim()).to.equal(`resdet eval: ${gtFile}: images[1].file_name: '../../secret.txt' resolves to ${outside}, outside --images ${images}; refused`);
    expect(r.stdout).to.equal('');
  });

  it('refuses absolute file names, /etc/passwd-style climbs and links that lead out, all named in one run', () => {
    symlinkSync(outside, join(images, 'link.png'));
    const gtFile = withNames('/etc/passwd', '../../../../../../../../etc/passwd', 'link.png', '000002.png', 'missing.png');
    const r = evaluate(gtFile);
    expect(r.status).to.equal(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).to.equal(`resdet eval: ${gtFile}: images[0].file_name: '/etc/passwd' is an absolute path; file names are relative to --images ${images}; refused`);
    expect(lines[1]).to.equal(`resdet eval: ${gtFile}: images[1].file_name: '../../../../../../../../etc/passwd' resolves to /etc/passwd, outside --images ${images}; refused`);
    expect(lines[2]).to.equal(`resdet eval: ${gtFile}: images[2].file_name: 'link.png' resolves to ${outside}, outside --images ${images}; refused`);
    expect(lines[3]).to.equal(`resdet eval: ${gtFile}: images[4].file_name: ${join(images, 'missing.png')} does not exist`);
    expect(lines[4]).to.equal(`resdet eval: ${gtFile}: images: 4 of 5 images cannot be evaluated (each named above); no AP computed`);
    expect(lines).to.have.length(5);
    expect(r.stdout).to.equal('');
  });

  it('stops before any AP on an image that cannot be decoded, naming it and its annotation entry', () => {
    mkdirSync(join(images, 'bad'), { recursive: true });
    writeFileSync(join(images, 'bad', 'broken.png'), 'not a png');
    const gtFile = withNames('000001.png', 'bad/broken.png');
    const r = evaluate(gtFile);
    expect(r.status).to.equal(1);
    const line = `resdet eval: ${gtFile}: images[1].file_name: cannot be evaluated: ${join(images, 'bad', 'broken.png')}: not a readable image (`;
    expect(r.stderr.trim().startsWith(line), r.stderr).to.equal(true);
    expect(r.stderr.trim()).to.match(/\); no AP computed$/);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stdout).to.equal('');
  });
});
