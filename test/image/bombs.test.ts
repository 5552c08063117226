import { expect } from 'chai';
import sharp from 'sharp';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { decodeImage, ImageDecodeError } from '../../src/image/index.js';
import { repoRoot } from '../helpers/reference.js';
import { runInChild } from '../helpers/child.js';

/** A JPEG's SOF0 height and width rewritten: the header claims what the scan data cannot hold. */
function withSofSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = Uint8Array.from(jpeg);
  for (let i = 2; i + 9 < out.length;) {
    if (out[i] !== 0xff) throw new Error('not at a JPEG marker');
    const marker = out[i + 1];
    const length = (out[i + 2] << 8) | out[i + 3];
    if (marker === 0xc0 || marker === 0xc2) {
      out[i + 5] = height >> 8; out[i + 6] = height & 0xff;
      out[i + 7] = width >> 8; out[i + 8] = width & 0xff;
      return out;
    }
    i += 2 + length;
  }
  throw new Error('no SOF marker');
}

/** Tiny files that claim huge images: refused on the header, before gigabytes are decoded. */
describe('decompression bombs', () => {
  it('refuses a flat 6000x3000 PNG of a few KB (pixels per byte far beyond any photo), naming the file', async () => {
    const png = await sharp({ create: { width: 6000, height: 3000, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
    expect(png.byteLength).to.be.below(100_000);
    const error = await decodeImage(png).then(() => null, (e: unknown) => e);
    expect(error).to.be.instanceOf(ImageDecodeError);
    expect((error as Error).message).to.match(/^buffer: claims 6000x3000 = 18000000 pixels from only \d+ bytes .*decompression bomb.*maxPixels/);
    // the caller who sets maxPixels decides
    const decoded = await decodeImage(png, { maxPixels: 20_000_000 });
    expect([decoded.width, decoded.height]).to.deep.equal([6000, 3000]);
  });

  it('refuses a 10 KB JPEG whose header claims 10000x9999, in a child that stays small and quick', async () => {
    const jpeg = await sharp(readFileSync(join(repoRoot, 'samples', 'shapes-1.png'))).jpeg().toBuffer();
    const file = join(mkdtempSync(join(tmpdir(), 'resdet-bomb-')), 'claims-100mp.jpg');
    writeFileSync(file, withSofSize(jpeg, 10000, 9999));
    const r = runInChild(`
      import { decodeImage } from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'image', 'index.js'))};
      try { await decodeImage(${JSON.stringify(file)}); console.log('decoded'); } catch (e) { console.log(e.name + ': ' + e.message); }
    `, 30_000);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/ImageDecodeError: .*claims-100mp\.jpg: claims 10000x9999 = 99990000 pixels from only \d+ bytes/);
    expect(r.maxRssMiB).to.be.below(400);
  });
});
