import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jimp, loadFont, measureText } from 'jimp';
import * as fonts from 'jimp/fonts';
import { drawLabel, FontError, loadBitmapFont, measureLabel } from '../../src/preview/font.js';
import { drawPreview } from '../../src/preview/index.js';
import type { Detection } from '../../src/detector/result.js';

/** An opaque RGBA image with a different colour in every pixel, so misplaced glyphs show. */
function background(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      rgba[i] = (x * 7) & 255; rgba[i + 1] = (y * 13) & 255; rgba[i + 2] = ((x + y) * 3) & 255; rgba[i + 3] = 255;
    }
  }
  return rgba;
}

const labels = ['person 0.97', 'traffic light 0.50', 'AVAWAY Ty.Te 0.01', 'shape_3 1.00'];

describe('preview label font', function () {
  this.timeout(60_000);

  for (const size of [8, 16, 32, 64] as const) {
    it(`draws the ${size} px font pixel for pixel as jimp's print does, clipped at every edge`, async () => {
      const file = fonts[`SANS_${size}_WHITE`];
      const [ours, theirs] = await Promise.all([loadBitmapFont(file), loadFont(file)]);
      const width = 9 * size, height = 3 * size;
      const rgba = background(width, height);
      const rgb = new Uint8Array(width * height * 3);
      for (let p = 0; p < width * height; p++) rgb.set(rgba.subarray(4 * p, 4 * p + 3), 3 * p);
      const image = Jimp.fromBitmap({ data: Buffer.from(background(width, height)), width, height });
      // Inside, past the right edge, above the top and left of the left edge, below the bottom.
      const places = [[2, 2], [width - 3 * size, size], [-size, -size / 2], [size, height - size / 2]];
      labels.forEach((text, k) => {
        const [x, y] = places[k];
        drawLabel(rgba, width, height, 4, ours, x, y, text);
        drawLabel(rgb, width, height, 3, ours, x, y, text);
        image.print({ font: theirs, x, y, text });
        expect(measureLabel(ours, text), text).to.equal(measureText(theirs, text));
      });
      const want = image.bitmap.data;
      let differing = 0;
      for (let i = 0; i < rgba.length; i++) if (rgba[i] !== want[i]) differing++;
      expect(differing, 'bytes differing from jimp').to.equal(0);
      let differingRgb = 0;
      for (let p = 0; p < width * height; p++) for (let k = 0; k < 3; k++) if (rgb[3 * p + k] !== want[4 * p + k]) differingRgb++;
      expect(differingRgb, 'RGB bytes differing from jimp').to.equal(0);
      // And it drew something: the labels changed pixels.
      expect(Buffer.compare(Buffer.from(rgba), Buffer.from(background(width, height)))).to.not.equal(0);
    });
  }

  it('draws a character the font lacks as "?" and counts it in the width', async () => {
    const font = await loadBitmapFont(fonts.SANS_16_WHITE);
    expect(measureLabel(font, 'a\u4e00b')).to.equal(measureLabel(font, 'a?b'));
    const a = background(80, 24), b = background(80, 24);
    drawLabel(a, 80, 24, 4, font, 2, 2, 'a\u4e00b');
    drawLabel(b, 80, 24, 4, font, 2, 2, 'a?b');
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true);
  });

  it('refuses a file that is not a BMFont, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resdet-font-'));
    try {
      const file = join(dir, 'broken.fnt');
      writeFileSync(file, 'info face=plain text, not XML');
      let error: unknown;
      await loadBitmapFont(file).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(FontError);
      expect((error as Error).message).to.contain(file).and.to.contain('not a BMFont XML file');
      writeFileSync(file, '<font><common lineHeight="9"/><pages><page id="0" file="missing.png"/></pages></font>');
      error = undefined;
      await loadBitmapFont(file).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(FontError);
      expect((error as Error).message).to.contain(file).and.to.contain("its page missing.png cannot be read");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('draws the preview over the pixels given: box outline, tab and label above the box, the rest untouched', async () => {
    const width = 320, height = 320;
    const rgb = new Uint8Array(width * height * 3).fill(40);
    const detection = { box: [100, 150, 220, 260], score: 0.87, label: 1, className: 'circle' } as unknown as Detection;
    await drawPreview(rgb, width, height, [detection]);
    // The 8 px font on a 320 px image: tab of 8 * 1.15 + 2 pads above y = 150, in the palette's first colour.
    const at = (x: number, y: number) => Array.from(rgb.subarray(3 * (y * width + x), 3 * (y * width + x) + 3));
    expect(at(101, 139)).to.deep.equal([31, 119, 180]);
    // White text blended into the tab (red 31): antialiased at 8 px, so counted as clearly lighter.
    let text = 0;
    for (let y = 137; y < 150; y++) for (let x = 100; x < 160; x++) if (at(x, y)[0] > 120) text++;
    expect(text, 'text pixels on the tab').to.be.greaterThan(20);
    // The 1 px outline (320 / 320) on the box's edges; inside and outside it the image is as it was.
    expect(at(100, 200)).to.deep.equal([31, 119, 180]);
    expect(at(160, 259)).to.deep.equal([31, 119, 180]);
    expect(at(160, 200)).to.deep.equal([40, 40, 40]);
    expect(at(50, 50)).to.deep.equal([40, 40, 40]);
  });
});
