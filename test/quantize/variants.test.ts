import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readModelInterface } from '../../onnx/index.js';
import { loadModel, ModelPackageError, readModelPackage } from '../../src/index.js';
import { validateManifest } from '../../src/modelPackage/index.js';
import { repoRoot } from '../helpers/reference.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const resdet = (...args: string[]) => {
  const run = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`resdet ${args.join(' ')} failed (${run.status}):\n${run.stderr}`);
  return run.stdout;
};
const shapes = join(repoRoot, 'models', 'shapes');
const samples = [1, 2, 3, 4].map((i) => join(repoRoot, 'samples', `shapes-${i}.png`));

/** Box and mask AP@[.5:.95] of a package's variant on the held-out set, by `resdet eval`. */
function evalAp(pkg: string, dtype: string, data: string): { box: number; mask: number } {
  const out = resdet('eval', '--annotations', join(data, 'annotations', 'instances_val.json'), '--images', join(data, 'val'), '--model', pkg, '--dtype', dtype, '--json');
  const r = JSON.parse(out) as { bbox: { stats: number[] }; segm: { stats: number[] } };
  return { box: r.bbox.stats[0], mask: r.segm.stats[0] };
}

/** Op types onnxruntime's CPU provider runs after its graph optimisations. */
async function optimizedOps(bytes: Uint8Array, dir: string, name: string): Promise<Map<string, number>> {
  const path = join(dir, `${name}.optimized.onnx`);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', optimizedModelFilePath: path, logSeverityLevel: 3 });
  await session.release();
  const counts = new Map<string, number>();
  for (const n of readModelInterface(readFileSync(path)).nodes) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return counts;
}

describe('precision variants (resdet quantize, loadModel dtype)', function () {
  this.timeout(900_000);
  let work: string;
  let pkg: string;
  let heldOut: string;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'resdet-quantize-'));
    heldOut = join(work, 'heldout');
    const calibration = join(work, 'calibration');
    // A small fixed held-out set (the same generator and seed as the bundled model's validation
    // images) and calibration images of another seed.
    resdet('dataset', '--out', heldOut, '--train', '0', '--val', '24', '--seed', '1', '--size', '256x256');
    resdet('dataset', '--out', calibration, '--train', '0', '--val', '8', '--seed', '7', '--size', '256x256');
    resdet('quantize', shapes, '--dtype', 'fp16', '--out', join(work, 'fp16'));
    pkg = join(work, 'variants');
    resdet('quantize', join(work, 'fp16'), '--dtype', 'int8', '--calibration', join(calibration, 'val'), '--out', pkg);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('keeps loading packages written before variants, and names the variant a package lacks', async () => {
    const model = await loadModel('shapes', { dtype: 'fp32' });
    expect((await model.detect(samples[0])).detections.length).to.be.greaterThan(0);
    await model.release();
    await loadModel('shapes', { dtype: 'int8' }).then(
      () => expect.fail('loaded a variant the package does not have'),
      (e: unknown) => {
        expect(e).to.be.instanceOf(ModelPackageError);
        expect((e as Error).message).to.match(/has no int8 variant \(it has: fp32\).*resdet quantize/);
      },
    );
  });

  it('writes fp16 at about half and int8 at about a quarter of fp32, the fp32 files kept as they were', () => {
    const fp32 = readModelPackage(pkg);
    const original = readModelPackage(shapes);
    for (const role of ['backbone', 'rpnHead', 'boxHead', 'maskHead'] as const) {
      expect(fp32.entries[role]!.sha256).to.equal(original.entries[role]!.sha256);
    }
    const total = (dtype: 'fp32' | 'fp16' | 'int8') => Object.values(readModelPackage(pkg, { dtype }).entries).reduce((n, f) => n + f.bytes, 0);
    const half = total('fp16') / total('fp32');
    const quarter = total('int8') / total('fp32');
    console.log(`      sizes: fp32 ${(total('fp32') / 1e6).toFixed(2)} MB, fp16 ${half.toFixed(3)}x, int8 ${quarter.toFixed(3)}x`);
    expect(half).to.be.within(0.45, 0.55);
    expect(quarter).to.be.within(0.2, 0.3);
  });

  it('loads fp16 and int8 in Node (cpu) and detects what fp32 detects on the sample images', async () => {
    const models = { fp32: await loadModel(pkg), fp16: await loadModel(pkg, { dtype: 'fp16' }), int8: await loadModel(pkg, { dtype: 'int8' }) };
    try {
      for (const image of samples) {
        const ref = (await models.fp32.detect(image)).detections;
        const half = (await models.fp16.detect(image)).detections;
        const int8 = (await models.int8.detect(image)).detections;
        // fp16 weights change the numbers in the 4th digit: the same detections, boxes within a pixel.
        expect(half.map((d) => d.label)).to.deep.equal(ref.map((d) => d.label));
        half.forEach((d, i) => {
          d.box.forEach((v, k) => expect(Math.abs(v - ref[i].box[k])).to.be.below(1));
          expect(Math.abs(d.score - ref[i].score)).to.be.below(0.01);
        });
        // int8: every confident fp32 detection found again with the same label at IoU >= 0.8.
        for (const d of ref.filter((r) => r.score > 0.9)) {
          expect(int8.some((q) => q.label === d.label && boxIou(q.box, d.box) >= 0.8), `${image}: ${d.className} ${d.score}`).to.equal(true);
        }
      }
    } finally {
      await Promise.all(Object.values(models).map((m) => m.release()));
    }
  });

  it('int8 networks run as onnxruntime integer kernels: every Conv a QLinearConv, every Gemm a QGemm', async () => {
    const fp32 = readModelPackage(pkg);
    const int8 = readModelPackage(pkg, { dtype: 'int8' });
    for (const role of ['backbone', 'rpnHead', 'boxHead', 'maskHead'] as const) {
      const before = new Map<string, number>();
      for (const n of readModelInterface(fp32.files[role]!).nodes) before.set(n.opType, (before.get(n.opType) ?? 0) + 1);
      const after = await optimizedOps(int8.files[role]!, work, role);
      expect(after.get('Conv') ?? 0, `${role}: float Conv left`).to.equal(0);
      expect(after.get('Gemm') ?? 0, `${role}: float Gemm left`).to.equal(0);
      expect(after.get('QLinearConv') ?? 0, role).to.equal(before.get('Conv') ?? 0);
      expect(after.get('QGemm') ?? 0, role).to.equal(before.get('Gemm') ?? 0);
    }
  });

  it('accuracy on a fixed held-out set: fp16 within 0.1 and int8 within 1.0 point of fp32 box and mask AP', () => {
    const fp32 = evalAp(pkg, 'fp32', heldOut);
    const fp16 = evalAp(pkg, 'fp16', heldOut);
    const int8 = evalAp(pkg, 'int8', heldOut);
    console.log(`      AP box/mask on 24 held-out images: fp32 ${fp32.box.toFixed(4)}/${fp32.mask.toFixed(4)}, fp16 ${fp16.box.toFixed(4)}/${fp16.mask.toFixed(4)}, int8 ${int8.box.toFixed(4)}/${int8.mask.toFixed(4)}`);
    expect(fp32.box - fp16.box).to.be.below(0.001);
    expect(fp32.mask - fp16.mask).to.be.below(0.001);
    expect(fp32.box - int8.box).to.be.below(0.01);
    expect(fp32.mask - int8.mask).to.be.below(0.01);
  });

  it('refuses variants it does not know and variant files outside the package', () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'resdet.json'), 'utf8')) as Record<string, unknown> & { variants: Record<string, { files: Record<string, { path: string }> }> };
    expect(() => validateManifest({ ...manifest, variants: { ...manifest.variants, int4: manifest.variants.int8 } }, 'm')).to.throw(/'variants.int4' is not a known field/);
    const escaped = structuredClone(manifest);
    escaped.variants.int8.files.backbone.path = '../backbone.onnx';
    expect(() => validateManifest(escaped, 'm')).to.throw(/'variants.int8.files.backbone.path' must be a file name inside the package/);
  });
});

function boxIou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}
