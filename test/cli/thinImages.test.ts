import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { repoRoot } from '../helpers/reference.js';

const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** `resdet detect` on images whose short side resizes to 0: each named in the batch, the rest written. */
describe('resdet detect on degenerate image sizes', () => {
  it('names the 5000x1 and 1x5000 images of a batch, writes the 1x1 and the normal one, exit 1', async () => {
    const work = mkdtempSync(join(tmpdir(), 'resdet-cli-thin-'));
    copyFileSync(join(repoRoot, 'samples', 'shapes-1.png'), join(work, 'photo.png'));
    for (const [name, w, h] of [['wide.png', 5000, 1], ['tall.png', 1, 5000], ['dot.png', 1, 1]] as const) {
      writeFileSync(join(work, name), await sharp({ create: { width: w, height: h, channels: 3, background: '#c85a1e' } }).png().toBuffer());
    }
    const run = spawnSync(process.execPath, [main, 'detect', 'photo.png', 'wide.png', 'tall.png', 'dot.png', '--out', 'out'], { encoding: 'utf8', cwd: work });
    expect(run.status, run.stderr).to.equal(1);
    expect(run.stderr).to.match(/^wide\.png: a 5000x1 image resizes to 255x0, a side of 0 pixels: too thin to detect on/m);
    expect(run.stderr).to.match(/^tall\.png: a 1x5000 image resizes to 0x255/m);
    expect(run.stderr).to.match(/2 of 4 images failed; 2 written to .*out$/m);
    expect(run.stderr).to.not.match(/internal error|Invalid input shape|\n\s+at /);
    expect(readdirSync(join(work, 'out')).sort()).to.deep.equal(['dot.json', 'dot.png', 'photo.json', 'photo.png']);
  });
});
