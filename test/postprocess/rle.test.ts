import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorInputError } from '../../postprocess/errors.js';
import {
  compressRle, decompressRle, rleArea, rleDecode, rleEncode, rleEncodeWindow, rleFrPoly, rleFrString, rleIou, rleMerge,
  rleToBbox, rleToString, type Rle,
} from '../../postprocess/rle.js';
import { repoRoot } from '../helpers/reference.js';

// Inputs and outputs of cocoapi's common/maskApi.c, compiled outside the repository (see
// test/fixtures/rle/README.md for how they were made).
function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'rle', name), 'utf8')) as T;
}

interface EncodeCase {
  name: string; height: number; width: number; mask: string; counts: number[]; string: string;
  area: number; bbox: number[];
}

const maskOf = (c: EncodeCase) => Uint8Array.from(c.mask, (ch) => (ch === '1' ? 1 : 0));

describe("COCO RLE (pycocotools' maskApi.c)", () => {
  const encodeCases = fixture<{ cases: EncodeCase[] }>('encode.json').cases;

  describe('rleEncodeWindow', () => {
    it("gives maskApi.c's counts for every fixture mask, cut to its foreground's bounding window or given whole", () => {
      for (const c of encodeCases) {
        const mask = maskOf(c);
        expect(rleEncodeWindow(mask, { left: 0, top: 0, width: c.width, height: c.height }, c.height, c.width).counts, c.name).to.deep.equal(c.counts);
        const [x, y, w, h] = c.bbox;
        const win = { left: x, top: y, width: w, height: h };
        const data = new Uint8Array(w * h);
        for (let r = 0; r < h; r++) data.set(mask.subarray((y + r) * c.width + x, (y + r) * c.width + x + w), r * w);
        expect(rleEncodeWindow(data, win, c.height, c.width).counts, `${c.name} windowed`).to.deep.equal(c.counts);
      }
    });

    it('refuses a window outside the image or data of the wrong size', () => {
      expect(() => rleEncodeWindow(new Uint8Array(4), { left: 3, top: 0, width: 2, height: 2 }, 4, 4)).to.throw(OperatorInputError, /not inside the 4x4 image/);
      expect(() => rleEncodeWindow(new Uint8Array(3), { left: 0, top: 0, width: 2, height: 2 }, 4, 4)).to.throw(OperatorInputError, /width \* height = 4 bytes, got 3/);
    });
  });

  describe('on masks encoded by maskApi.c', () => {
    for (const c of encodeCases) {
      it(`encodes, compresses, parses, decodes and measures '${c.name}' as maskApi.c does`, () => {
        const rle = rleEncode(maskOf(c), c.height, c.width);
        expect(rle).to.deep.equal({ size: [c.height, c.width], counts: c.counts });
        expect(rleToString(rle)).to.equal(c.string);
        expect(rleFrString(c.string, c.height, c.width).counts).to.deep.equal(c.counts);
        expect(Array.from(rleDecode(rle))).to.deep.equal(Array.from(maskOf(c)));
        expect(rleArea(rle)).to.equal(c.area);
        expect(rleToBbox(rle)).to.deep.equal(c.bbox);
      });
    }
  });

  it('computes iou with iscrowd semantics, -1 for overlapping masks of another size, as rleIou', () => {
    const f = fixture<{ dt: { size: [number, number]; counts: string }[]; gt: { size: [number, number]; counts: string }[]; iscrowd: number[]; iou: number[][] }>('iou.json');
    const dt = f.dt.map(decompressRle), gt = f.gt.map(decompressRle);
    const iou = rleIou(dt, gt, f.iscrowd);
    const rows = f.iou.map((_, d) => Array.from(iou.subarray(d * gt.length, (d + 1) * gt.length)));
    expect(rows).to.deep.equal(f.iou);
    expect(f.iou.flat()).to.include(-1); // the fixture does exercise the size mismatch
  });

  it('rasterises polygons as rleFrPoly (pycocotools frPyObjects)', () => {
    for (const c of fixture<{ cases: { name: string; height: number; width: number; polygon: number[]; string: string }[] }>('frpoly.json').cases) {
      expect(rleToString(rleFrPoly(c.polygon, c.height, c.width)), c.name).to.equal(c.string);
    }
  });

  it('merges RLEs by union and intersection as rleMerge', () => {
    for (const c of fixture<{ cases: { name: string; height: number; width: number; intersect: boolean; strings: string[]; string: string }[] }>('merge.json').cases) {
      const rles = c.strings.map((s) => rleFrString(s, c.height, c.width));
      expect(rleToString(rleMerge(rles, c.intersect)), c.name).to.equal(c.string);
    }
  });

  describe('hand-checkable cases', () => {
    it('a 1-pixel mask is a zero-length background run then one pixel: "01"', () => {
      const rle = rleEncode(Uint8Array.of(1), 1, 1);
      expect(rle.counts).to.deep.equal([0, 1]);
      expect(rleToString(rle)).to.equal('01');
      expect(rleToBbox(rle)).to.deep.equal([0, 0, 1, 1]);
    });

    it('all-zero and all-one 2x3 masks are "6" and "06"', () => {
      expect(rleToString(rleEncode(new Uint8Array(6), 2, 3))).to.equal('6');
      expect(rleToString(rleEncode(new Uint8Array(6).fill(1), 2, 3))).to.equal('06');
      expect(rleArea(rleFrString('06', 2, 3))).to.equal(6);
    });

    it('walks columns first: the second pixel of a row-major 2x2 mask is the third run position', () => {
      // row-major [[0, 1], [0, 0]]: column 0 = (0, 0), column 1 = (1, 0) -> runs 2 zeros, 1 one, 1 zero
      expect(rleEncode(Uint8Array.of(0, 1, 0, 0), 2, 2).counts).to.deep.equal([2, 1, 1]);
      expect(Array.from(rleDecode({ size: [2, 2], counts: [2, 1, 1] }))).to.deep.equal([0, 1, 0, 0]);
    });

    it('spreads a long run over 5-bit chunks: 1000 = 8 + 31*32 -> "Xo0" (the 0x10 bit forces a sign chunk)', () => {
      expect(rleToString({ size: [1, 1000], counts: [0, 1000] })).to.equal('0Xo0');
    });

    it('stores the fourth count on as a delta from two before, negative ones sign-extended: "5:d0I"', () => {
      // counts 5, 10, 20, 3: the last is stored as 3 - 10 = -7 = 'I' (25 + 48, sign bit 0x10 set)
      expect(rleToString({ size: [1, 38], counts: [5, 10, 20, 3] })).to.equal('5:d0I');
      expect(rleFrString('5:d0I', 1, 38).counts).to.deep.equal([5, 10, 20, 3]);
    });

    it('round-trips a large random mask through string and back', () => {
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const mask = Uint8Array.from({ length: 700 * 900 }, () => (rand() < 0.5 ? 1 : 0));
      const rle = rleEncode(mask, 700, 900);
      const back = rleDecode(rleFrString(rleToString(rle), 700, 900));
      expect(Buffer.from(back).equals(Buffer.from(mask))).to.equal(true);
      expect(compressRle(rle)).to.deep.equal({ size: [700, 900], counts: rleToString(rle) });
    });

    it('an image with no pixels encodes as counts [0] with an empty box', () => {
      expect(rleEncode(new Uint8Array(0), 0, 5)).to.deep.equal({ size: [0, 5], counts: [0] });
      expect(rleToBbox({ size: [0, 5], counts: [0, 0] })).to.deep.equal([0, 0, 0, 0]);
      expect(rleFrPoly([1, 1, 3, 1, 2, 2], 0, 4)).to.deep.equal({ size: [0, 4], counts: [0] });
      expect(rleDecode({ size: [3, 0], counts: [] }).length).to.equal(0);
    });
  });

  describe('refuses malformed input with OperatorInputError', () => {
    const ok: Rle = { size: [2, 3], counts: [1, 2, 3] };
    const bad: Array<[string, () => unknown, RegExp]> = [
      ['a string character outside 0..o', () => rleFrString('5:p', 1, 38), /'p' at 2/],
      ['a string cut inside a run length', () => rleFrString('5X', 1, 38), /ends inside a run length/],
      ['a string whose counts do not sum to H*W', () => rleFrString('5:d0I', 1, 39), /sum to 38, not height \* width = 39/],
      ['a string whose delta makes a negative count', () => rleFrString('5:d0E', 1, 38), /outside \[0, 2\^32 - 1\]/],
      ['a run length of more than 7 chunks', () => rleFrString('oooooooo0', 1, 38), /more than 7 chunks/],
      ['counts that do not sum to H*W', () => rleDecode({ size: [2, 3], counts: [1, 2] }), /sum to 3, not height \* width = 6/],
      ['a negative count', () => rleArea({ size: [2, 3], counts: [7, -1] }), /counts\[1\] = -1/],
      ['a fractional count', () => rleToBbox({ size: [2, 3], counts: [1.5, 4.5] }), /counts\[0\] = 1.5/],
      ['a negative size', () => rleToString({ size: [-2, -3], counts: [6] }), /height must be an integer >= 0/],
      ['a size over 2^32 pixels', () => rleEncode(new Uint8Array(0), 70000, 70000), /exceeds/],
      ['a mask of the wrong length', () => rleEncode(new Uint8Array(5), 2, 3), /6 bytes, got 5/],
      ['counts that are not an array', () => rleDecode({ size: [2, 3], counts: '123' as unknown as number[] }), /array of run lengths/],
      ['iscrowd of another length than gt', () => rleIou([ok], [ok, ok], [0]), /1 flags for 2 ground truths/],
      ['a malformed gt in iou', () => rleIou([ok], [{ size: [2, 3], counts: [9] }], [0]), /gt\[0\]\.counts sum to 9/],
      ['merging RLEs of different sizes', () => rleMerge([ok, { size: [3, 2], counts: [6] }]), /rles\[1\] is 3x2/],
      ['merging nothing', () => rleMerge([]), /non-empty/],
      ['a polygon with an odd number of coordinates', () => rleFrPoly([1, 2, 3], 5, 5), /x, y pairs/],
      ['a NaN polygon coordinate', () => rleFrPoly([1, 2, NaN, 4, 5, 6], 5, 5), /polygon\[2\] = NaN/],
      ['a polygon whose boundary is too long to walk', () => rleFrPoly([-9e6, 0, 9e6, 0, 0, 9e6], 5, 5), /boundary has/],
      ['a compressed RLE without a size', () => decompressRle({ counts: '6' } as never), /size/],
    ];
    for (const [what, call, message] of bad) {
      it(`for ${what}`, () => {
        expect(call).to.throw(OperatorInputError, message);
      });
    }
  });
});
