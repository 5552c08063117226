/**
 * `npm run bench:masks`: the bytes a default `detect()` spends on masks for a 9 MP photo, under
 * 0.1.0's defaults (score threshold 0, one whole-image binary mask per detection) and today's
 * (score 0.5, box windows), measured side by side in one run on the bundled model. The photo is
 * samples/shapes-1.png upscaled to 3000x3000 (9 MP); the masks are pasted at that size.
 */
import sharp from 'sharp';
import { join } from 'node:path';
import { type DetectOptions, loadModel } from '../src/index.js';
import { repoRoot } from '../test/helpers/reference.js';

const side = 3000;
const repeats = Number(process.env.RESDET_BENCH_REPEATS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { data, info } = await sharp(join(repoRoot, 'samples', 'shapes-1.png')).resize(side, side, { kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
  const image = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  const rgbaBytes = side * side * 4;
  const model = await loadModel('shapes', { threads: 2 });
  const variants: Array<[string, DetectOptions]> = [
    ['0.1.0 defaults (score 0, whole-image binary masks)', { scoreThreshold: 0, maskExtent: 'image' }],
    ['default (score 0.5, box windows)', {}],
    ['score 0 with box windows', { scoreThreshold: 0 }],
    ['default, masks as RLE', { masks: 'rle' }],
  ];
  console.log(`${side}x${side} image (${(rgbaBytes / 2 ** 20).toFixed(1)} MiB as RGBA), bundled model, medians of ${repeats}`);
  for (const [name, options] of variants) {
    const times: number[] = [];
    let detections = 0;
    let bytes = 0;
    for (let r = 0; r < repeats; r++) {
      const result = await model.detect(image, options);
      times.push(result.timings.total);
      detections = result.detections.length;
      bytes = result.detections.reduce((sum, d) => {
        const m = d.mask;
        if (!m) return sum;
        return sum + (m.format === 'rle' ? m.counts.length : m.data.byteLength);
      }, 0);
    }
    console.log(`  ${name.padEnd(52)} ${String(detections).padStart(3)} detections, masks ${(bytes / 2 ** 20).toFixed(2).padStart(8)} MiB = ${(bytes / rgbaBytes).toFixed(3).padStart(6)} x RGBA, ${median(times).toFixed(0)} ms`);
  }
  await model.release();
}

await main();
