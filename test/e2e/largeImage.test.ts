import { expect } from 'chai';
import sharp from 'sharp';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toRgbImage } from '../../src/image/index.js';
import { torchvisionDefaults } from '../../src/index.js';
import { transformImage } from '../../src/transform/index.js';
import { runInChild } from '../helpers/child.js';
import { repoRoot } from '../helpers/reference.js';

/** Memory follows what a file holds: a real 48 MP photo-sized JPEG detects in well under 1 GB. */
describe('large images', () => {
  it('8-bit images are transformed through a table, equal to the float path to the bit', () => {
    const width = 333, height = 251;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0, x = 7; i < rgb.length; i++) { x = (x * 1103515245 + 12345) >>> 0; rgb[i] = x >>> 24; }
    for (const cfg of [torchvisionDefaults.transform, { ...torchvisionDefaults.transform, minSize: 128, maxSize: 160 }]) {
      const viaTable = transformImage({ rgb, width, height }, cfg);
      const viaFloat = transformImage(toRgbImage({ rgb, width, height, decoder: 'test' }), cfg);
      expect(viaTable.paddedSize).to.deep.equal(viaFloat.paddedSize);
      let differ = 0;
      for (let i = 0; i < viaTable.data.length; i++) if (viaTable.data[i] !== viaFloat.data[i]) differ++;
      expect(differ, `${cfg.minSize}: values that differ`).to.equal(0);
    }
  });

  it('detects on an 8000x6000 JPEG (about 12 MB) with a peak under 1 GB', async function () {
    this.timeout(120_000);
    const width = 8000, height = 6000;
    const noise = Buffer.alloc(width * height * 3);
    for (let i = 0, x = 1; i < noise.length; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; noise[i] = (x >> 16) & (i % 7 ? 0xff : 0x0f); }
    const file = join(mkdtempSync(join(tmpdir(), 'resdet-large-')), 'photo48.jpg');
    await sharp(noise, { raw: { width, height, channels: 3 } }).blur(1.2).jpeg({ quality: 80 }).toFile(file);
    const bytes = statSync(file).size;
    expect(bytes).to.be.within(4e6, 25e6);
    const r = runInChild(`
      import { loadModel } from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'index.js'))};
      const model = await loadModel('shapes', { threads: 2 });
      const result = await model.detect(${JSON.stringify(file)});
      console.log(result.width + 'x' + result.height);
    `, 90_000);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('8000x6000');
    console.log(`      ${(bytes / 1e6).toFixed(1)} MB JPEG, 48 MP: peak RSS ${r.maxRssMiB.toFixed(0)} MiB, ${r.ms.toFixed(0)} ms`);
    expect(r.maxRssMiB).to.be.below(1024);
  });
});
