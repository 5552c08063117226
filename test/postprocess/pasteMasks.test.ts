import { expect } from 'chai';
import { OperatorInputError } from '../../postprocess/errors.js';
import {
  expandBoxesToInt, type MaskWindow, pasteBinaryMasksInBoxes, pasteBinaryMasksInImage, pasteMasksInBoxes, pasteMasksInImage,
} from '../../postprocess/pasteMasks.js';
import { rleEncode, rleEncodeWindow } from '../../postprocess/rle.js';
import { torchReference } from '../helpers/reference.js';
import { getFloat32, getInt } from '../helpers/tensorArchive.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('pasteMasksInImage (torchvision paste_masks_in_image)', () => {
  const ref = torchReference('paste_masks_cases');
  const cases = ref.meta.cases as string[];

  function load(name: string) {
    const [h, w] = Array.from(getInt(ref, `${name}/image_size`));
    return {
      masks: getFloat32(ref, `${name}/masks`), boxes: getFloat32(ref, `${name}/boxes`),
      intBoxes: getInt(ref, `${name}/int_boxes`), expected: getFloat32(ref, `${name}/out`),
      h, w, padding: getInt(ref, `${name}/padding`)[0],
    };
  }

  for (const name of cases) {
    it(`pastes the '${name}' case as torchvision 0.14 does (max abs difference <= 1e-5)`, () => {
      const c = load(name);
      const out = pasteMasksInImage(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      expect(maxAbsDiff(out, c.expected)).to.be.at.most(1e-5);
    });

    it(`expands and truncates the '${name}' boxes toward zero exactly as expand_boxes(...).to(int64)`, () => {
      const c = load(name);
      const m = c.masks.length === 0 ? 28 : Math.sqrt(c.masks.length / (c.boxes.length / 4));
      const ints = expandBoxesToInt(c.boxes, (m + 2 * c.padding) / m);
      expect(Array.from(ints)).to.deep.equal(Array.from(c.intBoxes));
    });
  }

  it("reproduces torch 1.13's bilinear taps and float32 rounding bit for bit", () => {
    for (const name of ['random28', 'hand', 'blobs', 'padding2']) {
      const c = load(name);
      const out = pasteMasksInImage(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      let mismatches = 0;
      for (let i = 0; i < out.length; i++) if (out[i] !== c.expected[i]) mismatches++;
      expect(mismatches, name).to.equal(0);
    }
  });

  /** Window i of [N, H, W] planes: the window's values, and whether every pixel outside it is 0. */
  function windowOf<T extends Float32Array | Uint8Array>(planes: T, i: number, h: number, w: number, win: MaskWindow<T>): { inside: number[]; outsideZero: boolean } {
    const inside: number[] = [];
    let outsideZero = true;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = planes[i * h * w + y * w + x];
        if (y >= win.top && y < win.top + win.height && x >= win.left && x < win.left + win.width) inside.push(v);
        else if (v !== 0) outsideZero = false;
      }
    }
    return { inside, outsideZero };
  }

  it('pastes into box windows holding exactly the full-image values, zero outside (every case, both forms)', () => {
    for (const name of cases) {
      const c = load(name);
      const n = c.boxes.length / 4;
      const full = pasteMasksInImage(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      const fullBinary = pasteBinaryMasksInImage(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      const windows = pasteMasksInBoxes(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      const binary = pasteBinaryMasksInBoxes(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      expect(windows.length, name).to.equal(n);
      for (let i = 0; i < n; i++) {
        for (const win of [windows[i], binary[i]]) {
          expect(win.left + win.width, name).to.be.at.most(c.w);
          expect(win.top + win.height, name).to.be.at.most(c.h);
          expect(win.data.length, name).to.equal(win.width * win.height);
        }
        const f = windowOf(full, i, c.h, c.w, windows[i]);
        expect(f.outsideZero, `${name}[${i}] zero outside its window`).to.equal(true);
        expect(Array.from(windows[i].data), `${name}[${i}]`).to.deep.equal(f.inside);
        const b = windowOf(fullBinary, i, c.h, c.w, binary[i]);
        expect(b.outsideZero).to.equal(true);
        expect(Array.from(binary[i].data), `${name}[${i}] binary`).to.deep.equal(b.inside);
        // and the window's RLE is the full-image mask's
        const plane = fullBinary.subarray(i * c.h * c.w, (i + 1) * c.h * c.w);
        expect(rleEncodeWindow(binary[i].data, binary[i], c.h, c.w), `${name}[${i}] rle`).to.deep.equal(rleEncode(plane, c.h, c.w));
      }
    }
  });

  it("thresholds with torchvision's `> 0.5` by default, straight into a Uint8Array", () => {
    for (const name of ['random28', 'blobs', 'hand']) {
      const c = load(name);
      const bin = pasteBinaryMasksInImage(c.masks, c.boxes, c.h, c.w, { padding: c.padding });
      let wrong = 0;
      for (let i = 0; i < bin.length; i++) if (bin[i] !== (c.expected[i] > 0.5 ? 1 : 0)) wrong++;
      expect(wrong, name).to.equal(0);
    }
  });

  it("uses a float32 threshold and offers Detectron2's `>=` rule (visible on exact 0.5 values)", () => {
    // padding 0 and a 4-pixel box on a 4x4 mask take torch's copy path: values pasted unchanged
    const masks = new Float32Array(16).fill(0.5);
    masks[0] = 0.25;
    const boxes = Float32Array.of(1, 1, 4, 4);
    const probs = pasteMasksInImage(masks, boxes, 6, 6, { padding: 0 });
    expect(probs[1 * 6 + 1]).to.equal(0.25);
    expect(probs[2 * 6 + 2]).to.equal(0.5);
    const gt = pasteBinaryMasksInImage(masks, boxes, 6, 6, { padding: 0 });
    const ge = pasteBinaryMasksInImage(masks, boxes, 6, 6, { padding: 0, thresholdRule: 'greaterOrEqual' });
    expect(gt.reduce((s, v) => s + v, 0)).to.equal(0);
    expect(ge.reduce((s, v) => s + v, 0)).to.equal(15);
    expect(ge[1 * 6 + 1]).to.equal(0);
    // the threshold is rounded to float32 as torch does: fround(0.1) is not > fround(0.1), though > 0.1
    masks.fill(Math.fround(0.1));
    expect(pasteBinaryMasksInImage(masks, boxes, 6, 6, { padding: 0, maskThreshold: 0.1 }).some((v) => v !== 0)).to.equal(false);
  });

  it('pastes nothing for boxes wholly left of or above the image, where torchvision 0.14 raises', () => {
    // torchvision: "The expanded size of the tensor (...) must match the existing size (0)"
    const masks = new Float32Array(2 * 28 * 28).fill(0.9);
    const boxes = Float32Array.of(-50, 10, -10, 30, 10, -80, 30, -20);
    const out = pasteMasksInImage(masks, boxes, 100, 150);
    expect(out.length).to.equal(2 * 100 * 150);
    expect(out.every((v) => v === 0)).to.equal(true);
  });

  it('pastes a box far larger than the image without materialising the resized mask', () => {
    const masks = new Float32Array(28 * 28).fill(1);
    const t0 = performance.now();
    const out = pasteMasksInImage(masks, Float32Array.of(-1e12, -1e12, 1e12, 1e12), 50, 40);
    expect(performance.now() - t0).to.be.below(1000);
    expect(out.every((v) => v === 1)).to.equal(true);
  });

  it('returns an empty [0, H, W] result for no detections and handles a 0-sized image', () => {
    expect(pasteMasksInImage(new Float32Array(0), new Float32Array(0), 20, 30).length).to.equal(0);
    expect(pasteBinaryMasksInImage(new Float32Array(0), new Float32Array(0), 20, 30).length).to.equal(0);
    expect(pasteMasksInImage(new Float32Array(4), Float32Array.of(0, 0, 5, 5), 0, 30).length).to.equal(0);
  });

  describe('refuses bad input with OperatorInputError', () => {
    const masks = new Float32Array(2 * 28 * 28);
    const boxes = Float32Array.of(0, 0, 10, 10, 5, 5, 20, 20);
    const bad: Array<[string, () => unknown, RegExp]> = [
      ['boxes not a multiple of 4', () => pasteMasksInImage(masks, boxes.subarray(0, 7), 10, 10), /multiple of 4/],
      ['masks not N*M*M', () => pasteMasksInImage(masks.subarray(1), boxes, 10, 10), /N \* M \* M/],
      ['non-square masks (28x27)', () => pasteMasksInImage(new Float32Array(2 * 28 * 27), boxes, 10, 10), /square/],
      ['masks without boxes', () => pasteMasksInImage(masks, new Float32Array(0), 10, 10), /boxes is empty/],
      ['a NaN coordinate', () => pasteMasksInImage(masks, Float32Array.of(0, 0, 10, 10, 5, NaN, 20, 20), 10, 10), /boxes\[1\].*NaN/],
      ['an infinite coordinate', () => pasteMasksInImage(masks, Float32Array.of(0, 0, Infinity, 10, 5, 5, 20, 20), 10, 10), /Infinity/],
      ['a coordinate beyond 2^52', () => pasteMasksInImage(masks, Float32Array.of(0, 0, 1e17, 10, 5, 5, 20, 20), 10, 10), /2\^52/],
      ['a negative image height', () => pasteMasksInImage(masks, boxes, -1, 10), /imageHeight/],
      ['a fractional image width', () => pasteMasksInImage(masks, boxes, 10, 10.5), /imageWidth/],
      ['a negative padding', () => pasteMasksInImage(masks, boxes, 10, 10, { padding: -1 }), /padding/],
      ['a NaN threshold', () => pasteBinaryMasksInImage(masks, boxes, 10, 10, { maskThreshold: NaN }), /maskThreshold/],
      ['an unknown threshold rule', () => pasteBinaryMasksInImage(masks, boxes, 10, 10, { thresholdRule: 'lt' as never }), /thresholdRule/],
      ['a plain array', () => pasteMasksInImage([] as unknown as Float32Array, boxes, 10, 10), /Float32Array/],
    ];
    for (const [what, call, message] of bad) {
      it(`for ${what}`, () => {
        expect(call).to.throw(OperatorInputError, message);
      });
    }
  });
});
