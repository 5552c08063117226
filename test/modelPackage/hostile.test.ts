/**
 * Hostile model packages: folders whose files lead out of the folder, block, never end or are too
 * large, and resdet.json configs out of range or contradicting their networks. Each is generated
 * here from a copy of models/shapes and must be refused with a ModelPackageError naming the file
 * and the key, quickly and with bounded memory, before any session is created.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, ModelPackageError, type Manifest } from '../../src/index.js';
import { checkPackageNetworks, readModelPackage } from '../../src/modelPackage/index.js';
import { fetchModelPackage, packageFileUrl } from '../../src/modelPackage/remote.js';
import { browserPackageStore } from '../../src/modelPackage/fetchBrowser.js';
import { runInChild } from '../helpers/child.js';
import { repoRoot, torchReference } from '../helpers/reference.js';
import { convertCheckpoint, type ConvertOptions } from '../../src/convert/index.js';
import { startServer } from '../download/server.js';

const shapesDir = join(repoRoot, 'models', 'shapes');
const shapesManifest = (): Manifest => JSON.parse(readFileSync(join(shapesDir, 'resdet.json'), 'utf8')) as Manifest;
const SECRET = 'hunter2-the-secret-text';

/** What loading a folder throws (loadModel's checks all run before any session is created). */
function refusal(dir: string): ModelPackageError {
  try {
    checkPackageNetworks(readModelPackage(dir));
  } catch (e) {
    expect(e).to.be.instanceOf(ModelPackageError);
    return e as ModelPackageError;
  }
  throw new Error(`${dir} loaded, but should have been refused`);
}

describe('hostile model packages', function () {
  this.timeout(60_000);
  let work: string;
  let n = 0;
  /** A fresh copy of models/shapes, `edit` applied to its manifest. */
  const copy = (edit: (m: Manifest & Record<string, unknown>) => void = () => undefined): string => {
    const dir = join(work, `pkg${n++}`);
    mkdirSync(dir);
    for (const f of readdirSync(shapesDir)) copyFileSync(join(shapesDir, f), join(dir, f));
    const m = shapesManifest() as Manifest & Record<string, unknown>;
    edit(m);
    writeFileSync(join(dir, 'resdet.json'), JSON.stringify(m, null, 2));
    return dir;
  };
  before(() => { work = mkdtempSync(join(tmpdir(), 'resdet-hostile-')); });
  after(() => rmSync(work, { recursive: true, force: true }));

  describe('files stay inside the package folder', () => {
    it('refuses an ONNX file that is a symbolic link to /etc/passwd, without reading it', () => {
      const dir = copy();
      unlinkSync(join(dir, 'backbone.onnx'));
      symlinkSync('/etc/passwd', join(dir, 'backbone.onnx'));
      const e = refusal(dir);
      expect(e.path).to.equal(join(dir, 'backbone.onnx'));
      expect(e.message).to.match(/backbone\.onnx: is a symbolic link out of the package folder/);
      expect(e.message).not.to.match(/root:/);
    });

    it('refuses a link to a file outside the folder, even one with the right size and sha256', () => {
      const dir = copy();
      const outside = join(work, 'outside-rpnHead.onnx');
      copyFileSync(join(shapesDir, 'rpnHead.onnx'), outside);
      unlinkSync(join(dir, 'rpnHead.onnx'));
      symlinkSync(outside, join(dir, 'rpnHead.onnx'));
      expect(refusal(dir).message).to.match(/rpnHead\.onnx: is a symbolic link out of the package folder/);
      // relative links that climb out are the same
      unlinkSync(join(dir, 'rpnHead.onnx'));
      symlinkSync('../outside-rpnHead.onnx', join(dir, 'rpnHead.onnx'));
      expect(refusal(dir).message).to.match(/rpnHead\.onnx: is a symbolic link out of the package folder/);
    });

    it('follows a link to another file inside the folder', () => {
      const dir = copy();
      copyFileSync(join(dir, 'boxHead.onnx'), join(dir, 'boxHead.real.onnx'));
      unlinkSync(join(dir, 'boxHead.onnx'));
      symlinkSync('boxHead.real.onnx', join(dir, 'boxHead.onnx'));
      expect(checkPackageNetworks(readModelPackage(dir)).files.boxHead.byteLength).to.equal(shapesManifest().files.boxHead.bytes);
    });

    it('refuses a link to /dev/zero quickly and with bounded memory (in a child process)', () => {
      const dir = copy();
      unlinkSync(join(dir, 'maskHead.onnx'));
      symlinkSync('/dev/zero', join(dir, 'maskHead.onnx'));
      const child = runInChild(`
        const { loadModel } = await import(${JSON.stringify(join(repoRoot, 'dist/src/index.js'))});
        try { await loadModel(${JSON.stringify(dir)}); console.log('LOADED'); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
      `, 20_000);
      expect(child.timedOut, 'timed out').to.equal(false);
      expect(child.status, child.stderr).to.equal(0);
      const out = JSON.parse(child.stdout.trim()) as { code: string; message: string };
      expect(out.code).to.equal('MODEL_PACKAGE');
      expect(out.message).to.match(/maskHead\.onnx: is a symbolic link out of the package folder/);
      expect(child.maxRssMiB).to.be.below(400);
      expect(child.ms).to.be.below(15_000);
    });

    it('refuses a FIFO in place of a file without blocking on it (in a child process)', () => {
      const dir = copy();
      unlinkSync(join(dir, 'rpnHead.onnx'));
      execFileSync('mkfifo', [join(dir, 'rpnHead.onnx')]);
      const child = runInChild(`
        const { loadModel } = await import(${JSON.stringify(join(repoRoot, 'dist/src/index.js'))});
        try { await loadModel(${JSON.stringify(dir)}); console.log('LOADED'); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
      `, 20_000);
      expect(child.timedOut, 'timed out').to.equal(false);
      expect(child.status, child.stderr).to.equal(0);
      const out = JSON.parse(child.stdout.trim()) as { code: string; message: string };
      expect(out.code).to.equal('MODEL_PACKAGE');
      expect(out.message).to.match(/rpnHead\.onnx: is a FIFO \(named pipe\), not a regular file/);
      expect(child.maxRssMiB).to.be.below(400);
      expect(child.ms).to.be.below(15_000);
    });

    it('refuses a device node inside the folder (as /dev/zero: c 1 5), quickly, without reading it', () => {
      const dir = copy();
      unlinkSync(join(dir, 'backbone.onnx'));
      try {
        execFileSync('mknod', [join(dir, 'zero'), 'c', '1', '5'], { stdio: 'ignore' });
      } catch {
        throw new Error('mknod failed: this test makes a device node and needs root (or CAP_MKNOD), as CI runs; run the suite as root');
      }
      symlinkSync('zero', join(dir, 'backbone.onnx'));
      const child = runInChild(`
        const { loadModel } = await import(${JSON.stringify(join(repoRoot, 'dist/src/index.js'))});
        try { await loadModel(${JSON.stringify(dir)}); console.log('LOADED'); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
      `, 20_000);
      expect(child.timedOut, 'timed out').to.equal(false);
      const out = JSON.parse(child.stdout.trim()) as { code: string; message: string };
      expect(out.code).to.equal('MODEL_PACKAGE');
      expect(out.message).to.match(/backbone\.onnx: is a device, not a regular file/);
      expect(child.maxRssMiB).to.be.below(400);
    });

    it('refuses a directory in place of a file', () => {
      const dir = copy();
      unlinkSync(join(dir, 'boxHead.onnx'));
      mkdirSync(join(dir, 'boxHead.onnx'));
      expect(refusal(dir).message).to.match(/boxHead\.onnx: is a directory, not a regular file/);
    });

    it('never echoes the text of a resdet.json that links out of the folder, or that is not JSON', () => {
      const secret = join(work, 'secret.txt');
      writeFileSync(secret, `${SECRET}\n`);
      const dir = copy();
      unlinkSync(join(dir, 'resdet.json'));
      symlinkSync(secret, join(dir, 'resdet.json'));
      const linked = refusal(dir);
      expect(linked.message).to.match(/resdet\.json: is a symbolic link out of the package folder/);
      expect(linked.message).not.to.include('hunter2');
      unlinkSync(join(dir, 'resdet.json'));
      writeFileSync(join(dir, 'resdet.json'), `${SECRET}\n`);
      const garbled = refusal(dir);
      expect(garbled.message).to.match(/resdet\.json: is not valid JSON( \(at position \d+\))?$/);
      expect(garbled.message).not.to.include('hunter2');
    });

    it('refuses a resdet.json over 1 MiB without parsing it', () => {
      const dir = copy();
      writeFileSync(join(dir, 'resdet.json'), JSON.stringify(shapesManifest()) + ' '.repeat(1 << 20));
      expect(refusal(dir).message).to.match(/resdet\.json: is \d+ bytes, more than the 1048576 a resdet\.json may be/);
    });

    for (const path of ['../backbone.onnx', '/etc/passwd', 'sub/../../x.onnx', 'https://evil.invalid/x.onnx', 'C:\\x.onnx', '.hidden', '%2e%2e/x']) {
      it(`refuses the file path ${JSON.stringify(path)} in the manifest`, () => {
        const dir = copy((m) => { m.files.backbone.path = path; });
        const e = refusal(dir);
        expect(e.path).to.equal(join(dir, 'resdet.json'));
        expect(e.message).to.include("field 'files.backbone.path' must be a file name inside the package");
      });
    }

    it('refuses a file size past what an ONNX file can be, before reading', () => {
      const dir = copy((m) => { m.files.boxHead.bytes = 1e15; });
      expect(refusal(dir).message).to.include("field 'files.boxHead.bytes' must be the file size");
    });
  });

  describe('the config is validated when the package loads', () => {
    /** [case, edit, the file that must be named ('resdet.json' or an ONNX file), what the message must say] */
    const cases: Array<[string, (m: Manifest & Record<string, unknown>) => void, string, RegExp]> = [
      ['minSize 0', (m) => { m.config.transform = { minSize: 0 }; }, 'resdet.json', /'config\.transform\.minSize' must be an integer in \[1, 8192\], found 0$/],
      ['minSize 1e9', (m) => { m.config.transform = { minSize: 1e9 }; }, 'resdet.json', /'config\.transform\.minSize' must be an integer in \[1, 8192\], found 1000000000$/],
      ['minSize "NaN"', (m) => { (m.config.transform as Record<string, unknown>) = { minSize: 'NaN' }; }, 'resdet.json', /'config\.transform\.minSize' must be an integer .*found "NaN"$/],
      ['maxSize 12.5', (m) => { m.config.transform = { maxSize: 12.5 }; }, 'resdet.json', /'config\.transform\.maxSize' must be an integer/],
      ['sizeDivisible 0', (m) => { m.config.transform = { sizeDivisible: 0 }; }, 'resdet.json', /'config\.transform\.sizeDivisible' must be an integer in \[1, 1024\], found 0/],
      ['imageStd with a 0', (m) => { m.config.transform = { imageStd: [0.2, 0, 0.2] }; }, 'resdet.json', /'config\.transform\.imageStd' item \[1\] must be a number in \(0, /],
      ['imageMean of 2 numbers', (m) => { m.config.transform = { imageMean: [0.5, 0.5] as unknown as [number, number, number] }; }, 'resdet.json', /'config\.transform\.imageMean' must be a list of 3 finite numbers/],
      ['resizeScaleRule unknown', (m) => { (m.config.transform as Record<string, unknown>) = { resizeScaleRule: 'torchvision-0.99' }; }, 'resdet.json', /'config\.transform\.resizeScaleRule' must be one of 'torchvision-0\.14', 'float64'/],
      ['negative preNmsTopN', (m) => { m.config.rpn = { preNmsTopN: -5 }; }, 'resdet.json', /'config\.rpn\.preNmsTopN' must be an integer in \[1, 1000000\], found -5/],
      ['nmsThresh 1.5', (m) => { m.config.rpn = { nmsThresh: 1.5 }; }, 'resdet.json', /'config\.rpn\.nmsThresh' must be a number in \[0, 1\], found 1\.5/],
      ['detectionsPerImage 0', (m) => { m.config.roiHeads = { ...m.config.roiHeads, detectionsPerImage: 0 }; }, 'resdet.json', /'config\.roiHeads\.detectionsPerImage' must be an integer in \[1, /],
      ['a box coder weight of 0', (m) => { m.config.roiHeads = { ...m.config.roiHeads, boxCoderWeights: [10, 10, 0, 5] }; }, 'resdet.json', /'config\.roiHeads\.boxCoderWeights' item \[2\]/],
      ['an unknown config field', (m) => { (m.config.transform as Record<string, unknown>) = { minSise: 800 }; }, 'resdet.json', /'config\.transform\.minSise' is not a field of config\.transform \(fields: minSize, maxSize/],
      ['an unknown stage', (m) => { (m.config as Record<string, unknown>).postprocess = {}; }, 'resdet.json', /'config\.postprocess' is not a stage of the config/],
      ['an unknown top-level key', (m) => { m.extra = 1; }, 'resdet.json', /field 'extra' is not a known field/],
      ['an unknown level key', (m) => { (m.backbone.levels[0] as unknown as Record<string, unknown>).scale = 4; }, 'resdet.json', /field 'backbone\.levels\[0\]\.scale' is not a known field/],
      ['an unknown file key', (m) => { (m.files.backbone as unknown as Record<string, unknown>).url = 'https://x'; }, 'resdet.json', /field 'files\.backbone\.url' is not a known field/],
      ['a mask pooler size the paste cannot take', (m) => { m.config.mask = { poolerOutputSize: 7 }; }, 'resdet.json', /'config\.mask\.poolerOutputSize' must be 14/],
      ['classes too short', (m) => { m.classes = m.classes.slice(0, -1); }, 'boxHead.onnx', /predicts 7 classes \(output 'classLogits' \[K, 7\]\), resdet\.json 'classes' names 6/],
      ['classes too long', (m) => { m.classes = [...m.classes, 'hexagon']; }, 'boxHead.onnx', /predicts 7 classes .*'classes' names 8/],
      ['wrong level channels', (m) => { m.backbone.levels[2].channels = 32; }, 'backbone.onnx', /output '2' has 64 channels, resdet\.json 'backbone\.levels\[2\]\.channels' is 32/],
      ['a level the backbone does not emit', (m) => { m.backbone.levels[4].name = 'p6'; }, 'backbone.onnx', /has no output 'p6' for resdet\.json 'backbone\.levels\[4\]\.name'/],
      ['a stride that is no power of two', (m) => { m.backbone.levels[1].stride = 6; }, 'resdet.json', /'backbone\.levels\[1\]\.stride' must be a power of two, found 6/],
      ['strides that decrease', (m) => { m.backbone.levels[2].stride = 4; }, 'resdet.json', /'backbone\.levels\[2\]\.stride' must be at least the previous level's 8, found 4/],
      ['a stride the backbone does not have', (m) => { m.backbone.levels[4].stride = 128; }, 'backbone.onnx', /output 'pool' is H\/64 high, resdet\.json 'backbone\.levels\[4\]\.stride' is 128/],
      ['a box pooler size unlike the graph\'s', (m) => { m.config.roiHeads = { poolerOutputSize: 14 }; }, 'boxHead.onnx', /pools RoIs to 7 x 7 \(its RoiAlign nodes\), resdet\.json 'config\.roiHeads\.poolerOutputSize' is 14/],
      ['a sampling ratio unlike the graph\'s', (m) => { m.config.roiHeads = { ...m.config.roiHeads, samplingRatio: 0 }; }, 'boxHead.onnx', /sampling ratio 2 .*'config\.roiHeads\.samplingRatio' is 0/],
      ['pooled levels the heads do not take', (m) => { m.config.levelMapper = { featureNames: ['0', '1', '2'] }; }, 'boxHead.onnx', /pools levels \["0","1","2","3"\], resdet\.json 'config\.levelMapper\.featureNames' is \["0","1","2"\]/],
      ['a pooled level that does not exist', (m) => { m.config.levelMapper = { featureNames: ['0', '1', '2', '5'] }; }, 'resdet.json', /'config\.levelMapper\.featureNames' names level "5", which 'backbone\.levels' does not declare/],
      ['anchor sizes for 4 of 5 levels', (m) => { m.config.rpn = { anchorSizes: [[32], [64], [128], [256]] }; }, 'resdet.json', /'config\.rpn\.anchorSizes' gives 4 anchor sizes, one per pyramid level is needed \(5 levels/],
      ['two anchor sizes on one level only', (m) => { m.config.rpn = { anchorSizes: [[32, 48], [64], [128], [256], [512]] }; }, 'resdet.json', /'config\.rpn\.anchorSizes' gives level '1' 3 anchors per location and level '0' 6: the RPN head is shared/],
      ['two anchor sizes on every level, unlike the RPN head', (m) => { m.config.rpn = { anchorSizes: [[32, 48], [64, 96], [128, 192], [256, 384], [512, 768]] }; }, 'rpnHead.onnx', /predicts 3 anchors per location, .*give 6 \(\[32,48\] x \[0\.5,1,2\]\)/],
      ['aspect ratios unlike the RPN head\'s anchors', (m) => { m.config.rpn = { aspectRatios: [1] }; }, 'rpnHead.onnx', /predicts 3 anchors per location, resdet\.json 'config\.rpn\.anchorSizes' x resdet\.json 'config\.rpn\.aspectRatios' give 1 \(\[32\] x \[1\]\)/],
    ];
    let dir: string;
    let original: string;
    before(() => {
      dir = copy();
      original = readFileSync(join(dir, 'resdet.json'), 'utf8');
    });
    afterEach(() => writeFileSync(join(dir, 'resdet.json'), original));

    for (const [name, edit, file, message] of cases) {
      it(`refuses ${name}, naming ${file} and the key`, () => {
        const m = JSON.parse(original) as Manifest & Record<string, unknown>;
        edit(m);
        writeFileSync(join(dir, 'resdet.json'), JSON.stringify(m));
        const e = refusal(dir);
        expect(e.path, e.message).to.equal(join(dir, file));
        expect(e.message).to.match(message);
      });
    }

    it('loadModel refuses before creating sessions, with the same error', async () => {
      const m = JSON.parse(original) as Manifest;
      m.config.transform = { minSize: 0 };
      writeFileSync(join(dir, 'resdet.json'), JSON.stringify(m));
      const e = await loadModel(dir).then(() => undefined, (err: unknown) => err);
      expect(e).to.be.instanceOf(ModelPackageError);
      expect((e as Error).message).to.match(/resdet\.json: resdet\.json field 'config\.transform\.minSize' must be an integer/);
    });

    it('honours detectionsPerImage', async () => {
      const image = join(repoRoot, 'samples', 'shapes-2.png'); // 7 annotated shapes
      const all = await loadModel(shapesDir, { threads: 1 });
      const m = JSON.parse(original) as Manifest;
      m.config.roiHeads = { ...m.config.roiHeads, detectionsPerImage: 2 };
      writeFileSync(join(dir, 'resdet.json'), JSON.stringify(m));
      const two = await loadModel(dir, { threads: 1 });
      try {
        const [a, b] = [await all.detect(image, { scoreThreshold: 0 }), await two.detect(image, { scoreThreshold: 0 })];
        expect(a.detections.length).to.be.above(2);
        expect(b.detections.map((d) => d.score)).to.deep.equal(a.detections.slice(0, 2).map((d) => d.score));
      } finally {
        await all.release();
        await two.release();
      }
    });
  });

  describe('the converter writes only configs that load', () => {
    let checkpoint: string;
    before(() => { checkpoint = join(torchReference('convert_cases').folder, 'r18.pth'); });

    it('writes a package whose config and networks pass the load checks, with config overrides', async () => {
      const out = join(work, 'converted');
      await convertCheckpoint(checkpoint, { out, config: { transform: { minSize: 512, maxSize: 640 }, roiHeads: { samplingRatio: 0, detectionsPerImage: 50 } } });
      const pkg = checkPackageNetworks(readModelPackage(out));
      expect(pkg.manifest.config.roiHeads).to.deep.equal({ samplingRatio: 0, detectionsPerImage: 50, poolerOutputSize: 7 });
    });

    const refused: Array<[string, ConvertOptions['config'], RegExp]> = [
      ['minSize 0', { transform: { minSize: 0 } }, /conversion option 'config\.transform\.minSize' must be an integer in \[1, 8192\], found 0/],
      ['an unknown field', { rpn: { preNmsTopn: 5 } as never }, /conversion option 'config\.rpn\.preNmsTopn' is not a field of config\.rpn/],
      ['a box pooler size unlike fc6\'s', { roiHeads: { poolerOutputSize: 14 } }, /'config\.roiHeads\.poolerOutputSize' is 14, but the (\S+ )*box head was trained on 7 x 7 RoIs/],
      ['a pooled level the backbone lacks', { levelMapper: { featureNames: ['0', '1', '2', '3', 'p7'] } }, /'config\.levelMapper\.featureNames' names level "p7"/],
    ];
    for (const [name, config, message] of refused) {
      it(`refuses ${name} and writes nothing`, async () => {
        const out = join(work, `refused-${n++}`);
        const e = await convertCheckpoint(checkpoint, { out, config }).then(() => undefined, (err: unknown) => err);
        expect(e).to.be.instanceOf(ModelPackageError);
        expect((e as Error).message).to.match(message);
        expect(existsSync(out)).to.equal(false);
      });
    }
  });

  describe('URL loading stays inside the package base URL', () => {
    const serve = (edit: (m: Manifest) => void, text?: string) => {
      const m = shapesManifest();
      edit(m);
      const files: Record<string, Uint8Array> = { '/pkg/resdet.json': new TextEncoder().encode(text ?? JSON.stringify(m)) };
      for (const f of Object.values(shapesManifest().files)) files[`/pkg/${f.path}`] = readFileSync(join(shapesDir, f.path));
      files['/secret/backbone.onnx'] = readFileSync(join(shapesDir, 'backbone.onnx'));
      return startServer(files);
    };

    for (const path of ['../secret/backbone.onnx', '../../x', 'https://evil.invalid/backbone.onnx', '//evil.invalid/x', '/secret/backbone.onnx']) {
      it(`refuses a manifest path ${JSON.stringify(path)} and requests nothing outside the folder`, async () => {
        const server = await serve((m) => { m.files.backbone.path = path; });
        try {
          const e = await fetchModelPackage(`${server.url}pkg/`, browserPackageStore(undefined)).then(() => undefined, (err: unknown) => err);
          expect(e).to.be.instanceOf(ModelPackageError);
          expect((e as Error).message).to.include(`${server.url}pkg/resdet.json: resdet.json field 'files.backbone.path' must be a file name inside the package`);
          expect(server.requests.map((r) => r.path)).to.deep.equal(['/pkg/resdet.json']);
        } finally {
          await server.close();
        }
      });
    }

    it('packageFileUrl keeps every file URL inside the base, whatever the manifest was checked by', () => {
      const base = new URL('http://127.0.0.1:1/models/pkg/');
      expect(packageFileUrl(base, 'boxHead.onnx').href).to.equal('http://127.0.0.1:1/models/pkg/boxHead.onnx');
      for (const path of ['../x', '..', 'https://evil.invalid/x', '/x', 'a/../../x', '%2e%2e/x', '?x', '#x']) {
        expect(() => packageFileUrl(base, path), path).to.throw(ModelPackageError, /not a file name inside the package folder/);
      }
    });

    it('refuses an oversize or non-JSON resdet.json without echoing it', async () => {
      const big = await serve(() => undefined, `{"x": "${'a'.repeat(2 << 20)}"}`);
      try {
        const e = await fetchModelPackage(`${big.url}pkg/`, browserPackageStore(undefined)).then(() => undefined, (err: unknown) => err);
        expect((e as Error).message).to.match(/resdet\.json: is \d+ bytes, more than the 1048576 a resdet\.json may be/);
      } finally {
        await big.close();
      }
      const garbled = await serve(() => undefined, `${SECRET} is not json`);
      try {
        const e = await fetchModelPackage(`${garbled.url}pkg/`, browserPackageStore(undefined)).then(() => undefined, (err: unknown) => err);
        expect(e).to.be.instanceOf(ModelPackageError);
        expect((e as Error).message).to.match(/resdet\.json: is not valid JSON/);
        expect((e as Error).message).not.to.include('hunter2');
      } finally {
        await garbled.close();
      }
    });

    it('checks the fetched networks against the manifest too (classes too short)', async () => {
      const server = await serve((m) => { m.classes = m.classes.slice(0, -1); });
      try {
        const e = await fetchModelPackage(`${server.url}pkg/`, browserPackageStore(undefined)).then(() => undefined, (err: unknown) => err);
        expect(e).to.be.instanceOf(ModelPackageError);
        expect((e as Error).message).to.include(`${server.url}pkg/boxHead.onnx: predicts 7 classes`);
      } finally {
        await server.close();
      }
    });
  });
});

describe('loadModel called from JavaScript without a model', () => {
  for (const [what, value] of [['nothing', undefined], ['an options object', { threads: 1 }], ['a number', 3]] as const) {
    it(`given ${what}, says what it takes (a ModelPackageError naming the bundled models, not a TypeError)`, async () => {
      const e = await (loadModel as (m: unknown) => Promise<unknown>)(value).then(() => undefined, (err: unknown) => err);
      expect(e).to.be.instanceOf(ModelPackageError);
      expect((e as Error).message).to.match(/is not a model: loadModel takes a package folder, a file: or http\(s\) URL, or a bundled model's name \(bundled: shapes\), e\.g\. loadModel\('shapes'\)/);
    });
  }
});
