import { expect } from 'chai';
import { Prng } from '../../src/dataset/prng.js';
import { rleDecode, rleFrPoly, rleMerge, type Rle } from '../../postprocess/rle.js';
import { maskToPolygons, type MaskWindow } from '../../src/annotate/polygons.js';

// Every polygon is rasterised back with our port of pycocotools' rleFrPoly and the parts unioned
// with rleMerge, as COCO.annToRLE does (frPyObjects + merge), and compared with the mask.

/** The project's seeded generator, so every case is the same on every run. */
function random(seed: number): () => number {
  const rng = new Prng(seed);
  return () => rng.next();
}

function windowOf(rows: string[], left = 0, top = 0): MaskWindow {
  const height = rows.length, width = rows[0].length;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => { for (let x = 0; x < width; x++) data[y * width + x] = r[x] === '#' ? 1 : 0; });
  return { data, left, top, width, height };
}

/** The window's pixels placed in an imageWidth x imageHeight image (row-major). */
function placed(w: MaskWindow, imageWidth: number, imageHeight: number): Uint8Array {
  const out = new Uint8Array(imageWidth * imageHeight);
  for (let y = 0; y < w.height; y++) {
    for (let x = 0; x < w.width; x++) out[(w.top + y) * imageWidth + w.left + x] = w.data[y * w.width + x];
  }
  return out;
}

/** rleFrPoly of each polygon, unioned, decoded: what pycocotools makes of the annotation. */
function rasterise(polygons: number[][], imageWidth: number, imageHeight: number): Uint8Array {
  if (polygons.length === 0) return new Uint8Array(imageWidth * imageHeight);
  const rles: Rle[] = polygons.map((p) => rleFrPoly(p, imageHeight, imageWidth));
  return rleDecode(rles.length === 1 ? rles[0] : rleMerge(rles));
}

interface Comparison { differing: number; iou: number; want: Uint8Array; got: Uint8Array; imageWidth: number; imageHeight: number }

/** The window placed `margin` pixels inside an image, turned into polygons and rasterised back. */
function compare(w: MaskWindow, tolerance: number, margin = 3): Comparison & { polygons: number[][] } {
  const shifted = { ...w, left: w.left + margin, top: w.top + margin };
  const iw = shifted.left + w.width + margin, ih = shifted.top + w.height + margin;
  const polygons = maskToPolygons(shifted, tolerance);
  for (const p of polygons) {
    expect(p.length % 2).to.equal(0);
    expect(p.length).to.be.at.least(6);
  }
  const want = placed(shifted, iw, ih), got = rasterise(polygons, iw, ih);
  let differing = 0, inter = 0, union = 0;
  for (let i = 0; i < want.length; i++) {
    if (want[i] !== got[i]) differing++;
    if (want[i] && got[i]) inter++;
    if (want[i] || got[i]) union++;
  }
  return { differing, iou: union === 0 ? 1 : inter / union, want, got, imageWidth: iw, imageHeight: ih, polygons };
}

/** Count of connected components of value `v` (8-connected for 1, 4-connected for 0), outside counted once. */
function components(mask: Uint8Array, width: number, height: number, v: number): number {
  const seen = new Uint8Array(mask.length);
  const eight = v === 1;
  let count = 0;
  const stack: number[] = [];
  for (let s = 0; s < mask.length; s++) {
    if (seen[s] || mask[s] !== v) continue;
    count++;
    seen[s] = 1;
    stack.push(s);
    while (stack.length) {
      const p = stack.pop()!, x = p % width, y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (!eight && dx !== 0 && dy !== 0)) continue;
          const nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const q = ny * width + nx;
          if (!seen[q] && mask[q] === v) { seen[q] = 1; stack.push(q); }
        }
      }
    }
  }
  return count;
}

/** Seeded blobs: discs and ellipses added, smaller ones cut out (holes), on a W x H window. */
function blobs(seed: number, width: number, height: number, parts: number, holes: number): MaskWindow {
  const rnd = random(seed);
  const data = new Uint8Array(width * height);
  const paint = (value: number, cx: number, cy: number, rx: number, ry: number) => {
    for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(height, Math.ceil(cy + ry)); y++) {
      for (let x = Math.max(0, Math.floor(cx - rx)); x < Math.min(width, Math.ceil(cx + rx)); x++) {
        if (((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1) data[y * width + x] = value;
      }
    }
  };
  const centres: Array<[number, number, number]> = [];
  for (let i = 0; i < parts; i++) {
    const r = (0.1 + 0.2 * rnd()) * Math.min(width, height);
    const cx = r + rnd() * (width - 2 * r), cy = r + rnd() * (height - 2 * r);
    centres.push([cx, cy, r]);
    for (let j = 0; j < 4; j++) paint(1, cx + (rnd() - 0.5) * r, cy + (rnd() - 0.5) * r, r * (0.5 + 0.5 * rnd()), r * (0.5 + 0.5 * rnd()));
  }
  for (let i = 0; i < holes; i++) {
    const [cx, cy, r] = centres[i % parts];
    paint(0, cx + (rnd() - 0.5) * r, cy + (rnd() - 0.5) * r, r * (0.08 + 0.15 * rnd()), r * (0.08 + 0.15 * rnd()));
  }
  return { data, left: 0, top: 0, width, height };
}

function noise(seed: number, width: number, height: number, density: number): MaskWindow {
  const rnd = random(seed);
  return { data: Uint8Array.from({ length: width * height }, () => (rnd() < density ? 1 : 0)), left: 0, top: 0, width, height };
}

const shapes: Record<string, MaskWindow> = {
  'a single pixel': windowOf(['#']),
  'single pixels apart': windowOf(['#..#', '....', '.#..']),
  'a checkerboard (diagonal neighbours, every interior gap a hole)': windowOf(['#.#.#.', '.#.#.#', '#.#.#.', '.#.#.#', '#.#.#.']),
  'the full window': windowOf(['####', '####', '####']),
  'one-pixel lines': windowOf(['#######.', '........', '#.#.....', '#..#....', '#...#...', '#....#..']),
  'a ring': windowOf(['#####', '#...#', '#.#.#', '#...#', '#####']),
  'a ring in a hole in a part': windowOf([
    '#########', '#.......#', '#.#####.#', '#.#...#.#', '#.#.#.#.#', '#.#...#.#', '#.#####.#', '#.......#', '#########',
  ]),
  'a one-pixel hole and a hole touching the part corner-wise': windowOf(['#####', '#.###', '##.##', '#####']),
  'a U and an S (concave turns)': windowOf(['#..#..###', '#..#..#..', '####..###', '........#', '......###']),
};

describe('maskToPolygons (rasterised back by rleFrPoly, unioned by rleMerge)', () => {
  it('gives back every pixel at tolerance 0, for shapes with one-pixel features, holes and nested parts', () => {
    for (const [name, w] of Object.entries(shapes)) {
      expect(compare(w, 0).differing, name).to.equal(0);
    }
  });

  it('gives back every pixel at tolerance 0 of random noise masks (every kind of pinch, spur and hole)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      for (const density of [0.2, 0.5, 0.8]) {
        const w = noise(seed, 5 + (seed % 17), 4 + (seed % 13), density);
        expect(compare(w, 0).differing, `seed ${seed} density ${density}`).to.equal(0);
      }
    }
  });

  it('gives back every pixel at tolerance 0 of seeded blobs with holes, placed anywhere in the image', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = { ...blobs(seed, 60 + seed * 7, 50 + seed * 5, 1 + (seed % 4), seed % 6), left: seed, top: 2 * seed };
      expect(compare(w, 0).differing, `seed ${seed}`).to.equal(0);
    }
  });

  it('holds its holes under the non-zero winding rule too (how annotation tools fill a polygon)', () => {
    // winding number of each polygon at every pixel centre; a pixel is inside when it is non-zero
    const winding = (p: number[], px: number, py: number) => {
      let wn = 0;
      for (let i = 0, n = p.length; i < n; i += 2) {
        const x1 = p[i], y1 = p[i + 1], x2 = p[(i + 2) % n], y2 = p[(i + 3) % n];
        const cross = (x2 - x1) * (py - y1) - (px - x1) * (y2 - y1);
        if (y1 <= py && y2 > py && cross > 0) wn++;
        else if (y1 > py && y2 <= py && cross < 0) wn--;
      }
      return wn;
    };
    const cases = [...Object.values(shapes), noise(5, 30, 20, 0.5), noise(6, 25, 25, 0.7), blobs(4, 90, 80, 2, 4)];
    for (const w of cases) {
      const polygons = maskToPolygons(w, 0);
      for (let y = 0; y < w.height; y++) {
        for (let x = 0; x < w.width; x++) {
          const inside = polygons.some((p) => winding(p, x + 0.5, y + 0.5) !== 0);
          expect(inside ? 1 : 0, `pixel (${x}, ${y})`).to.equal(w.data[y * w.width + x]);
        }
      }
    }
  });

  it('takes any non-zero byte as foreground', () => {
    const w = blobs(9, 70, 60, 2, 3);
    const bytes = w.data.map((v) => v * 255);
    expect(maskToPolygons({ ...w, data: bytes }, 0)).to.deep.equal(maskToPolygons(w, 0));
  });

  it('is one polygon per 8-connected part, holes bridged in (the window border is no boundary)', () => {
    const ring = shapes['a ring in a hole in a part'];
    expect(maskToPolygons(ring, 0)).to.have.length(3); // the frame, the ring in its hole, the pixel in the ring's
    expect(maskToPolygons(shapes['a checkerboard (diagonal neighbours, every interior gap a hole)'], 0)).to.have.length(1);
    expect(maskToPolygons(shapes['single pixels apart'], 0)).to.have.length(3);
    expect(maskToPolygons(shapes['the full window'], 0)).to.deep.equal([[0.5, 0, 3.5, 0, 4, 0.5, 4, 2.5, 3.5, 3, 0.5, 3, 0, 2.5, 0, 0.5]]);
    // a lone pixel is the diamond through its edge midpoints
    expect(maskToPolygons({ ...shapes['a single pixel'], left: 7, top: 3 }, 0)).to.deep.equal([[7.5, 3, 8, 3.5, 7.5, 4, 7, 3.5]]);
    expect(maskToPolygons({ data: new Uint8Array(12), left: 0, top: 0, width: 4, height: 3 }, 0)).to.deep.equal([]);
    expect(maskToPolygons({ data: new Uint8Array(0), left: 0, top: 0, width: 0, height: 5 }, 1)).to.deep.equal([]);
  });

  it('keeps parts and holes at tolerance 1 on blobs, with IoU >= 0.98', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = blobs(seed, 200 + seed * 9, 160 + seed * 7, 1 + (seed % 3), 1 + (seed % 4));
      const { iou, want, got, imageWidth, imageHeight } = compare(w, 1);
      expect(iou, `seed ${seed}`).to.be.at.least(0.98);
      // components of the image around the window: the background outside counts once
      for (const [v, what] of [[1, 'parts'], [0, 'holes']] as const) {
        expect(components(got, imageWidth, imageHeight, v), `${what}, seed ${seed}`).to.equal(components(want, imageWidth, imageHeight, v));
      }
    }
  });

  it('keeps every part at any tolerance, and single pixels exactly', () => {
    for (const tolerance of [1, 3, 10]) {
      for (const name of ['single pixels apart', 'a ring in a hole in a part', 'one-pixel lines', 'a checkerboard (diagonal neighbours, every interior gap a hole)']) {
        const w = shapes[name];
        expect(maskToPolygons(w, tolerance), `${name} at ${tolerance}`).to.have.length(components(w.data, w.width, w.height, 1));
      }
      expect(compare(shapes['single pixels apart'], tolerance).differing).to.equal(0);
    }
  });

  it('simplifies: far fewer vertices at tolerance 1 than at 0 on a blob', () => {
    const w = blobs(7, 400, 300, 2, 3);
    const count = (t: number) => maskToPolygons(w, t).reduce((s, p) => s + p.length / 2, 0);
    expect(count(1)).to.be.below(count(0) / 3);
  });

  it('refuses a window whose data does not match its size, or a bad tolerance', () => {
    const w = shapes['a ring'];
    expect(() => maskToPolygons({ ...w, width: 4 }, 0)).to.throw(/width \* height/);
    expect(() => maskToPolygons(w, -1)).to.throw(/tolerance/);
    expect(() => maskToPolygons(w, Number.NaN)).to.throw(/tolerance/);
    expect(() => maskToPolygons({ ...w, left: -1 }, 0)).to.throw(/left/);
  });

  it('is fast: a 500 x 500 blob window in a few milliseconds', () => {
    const w = blobs(3, 500, 500, 3, 6);
    for (let i = 0; i < 20; i++) maskToPolygons(w, 1); // warm up the JIT
    // CPU time, not wall time: the test machine is shared
    const cpuMs = (tolerance: number, runs: number) => {
      const t0 = process.cpuUsage();
      for (let i = 0; i < runs; i++) maskToPolygons(w, tolerance);
      const t = process.cpuUsage(t0);
      return (t.user + t.system) / 1000 / runs;
    };
    const at0 = cpuMs(0, 40), at1 = cpuMs(1, 40);
    console.log(`      500 x 500 blob window: ${at0.toFixed(2)} ms CPU at tolerance 0, ${at1.toFixed(2)} ms at tolerance 1`);
    expect(at1).to.be.below(10); // loose: the goal is a few ms
  });
});
