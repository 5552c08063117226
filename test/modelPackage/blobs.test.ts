import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelPackageError, readModelPackage, type Manifest } from '../../src/index.js';
import { readModelPackageFromFiles } from '../../src/modelPackage/blobs.js';
import { repoRoot } from '../helpers/reference.js';

const modelDir = join(repoRoot, 'models', 'shapes');
const manifestText = readFileSync(join(modelDir, 'resdet.json'), 'utf8');
const manifest = JSON.parse(manifestText) as Manifest;
const names = ['resdet.json', ...Object.values(manifest.files).map((f) => f.path)];

/** The package as a browser gives a picked folder: File objects with webkitRelativePath. */
function folderFiles(folder: string, replace: Record<string, Uint8Array | string> = {}): File[] {
  return names.filter((n) => replace[n] !== '').map((name) => {
    const file = new File([(replace[name] ?? readFileSync(join(modelDir, name))) as BlobPart], name);
    Object.defineProperty(file, 'webkitRelativePath', { value: `${folder}/${name}` });
    return file;
  });
}

async function failure(p: Promise<unknown>): Promise<ModelPackageError> {
  const error = await p.then(() => null, (e: unknown) => e);
  expect(error).to.be.instanceOf(ModelPackageError);
  return error as ModelPackageError;
}

/** readModelPackageFromFiles (the browser's loadModelFromFiles): a dropped or picked package folder, checked as a folder or a URL is. */
describe('a model package from File objects or Blobs', () => {
  it('gives the manifest and the bytes the folder reader gives, from Files, a Map or a record', async () => {
    const fromFolder = readModelPackage(modelDir);
    const blobs = Object.fromEntries(names.map((n) => [n, new Blob([readFileSync(join(modelDir, n))])]));
    for (const files of [folderFiles('shapes'), new Map(Object.entries(blobs)), blobs]) {
      const pkg = await readModelPackageFromFiles(files);
      expect(pkg.manifest).to.deep.equal(fromFolder.manifest);
      for (const role of Object.keys(fromFolder.files) as (keyof typeof fromFolder.files)[]) {
        expect(Buffer.from(pkg.files[role]!).equals(Buffer.from(fromFolder.files[role]!)), role).to.equal(true);
      }
    }
  });

  it('takes the files next to resdet.json when a picked folder holds another package too', async () => {
    const other = folderFiles('top/other', { 'backbone.onnx': new Uint8Array(10) }).filter((f) => f.name === 'backbone.onnx');
    const pkg = await readModelPackageFromFiles([...other, ...folderFiles('top/shapes')]);
    expect(pkg.files.backbone.byteLength).to.equal(manifest.files.backbone.bytes);
  });

  it('refuses files without resdet.json, naming what was given', async () => {
    const error = await failure(readModelPackageFromFiles(folderFiles('photos', { 'resdet.json': '' }), 'photos'));
    expect(error.message).to.match(/^photos: has no resdet\.json, so it is not a resdet model package \(files: backbone\.onnx, /);
  });

  it('refuses a missing network, a truncated one and a replaced one, naming the file', async () => {
    const missing = await failure(readModelPackageFromFiles(folderFiles('shapes', { 'maskHead.onnx': '' }), 'shapes'));
    expect(missing.message).to.match(/^shapes\/maskHead\.onnx: missing \(the maskHead network resdet\.json lists\)/);
    const rpn = readFileSync(join(modelDir, 'rpnHead.onnx'));
    const truncated = await failure(readModelPackageFromFiles(folderFiles('shapes', { 'rpnHead.onnx': rpn.subarray(0, 1000) }), 'shapes'));
    expect(truncated.message).to.match(/^shapes\/rpnHead\.onnx: is 1000 bytes, resdet\.json says \d+: truncated or replaced/);
    const flipped = Uint8Array.from(rpn);
    flipped[flipped.length - 1] ^= 1;
    const replaced = await failure(readModelPackageFromFiles(folderFiles('shapes', { 'rpnHead.onnx': flipped }), 'shapes'));
    expect(replaced.message).to.match(/^shapes\/rpnHead\.onnx: sha256 is [0-9a-f]{12}\.\.\., resdet\.json says [0-9a-f]{12}\.\.\.: the file is corrupt/);
  });

  it('refuses an invalid manifest and one whose classes disagree with the networks', async () => {
    const broken = await failure(readModelPackageFromFiles(folderFiles('shapes', { 'resdet.json': '{"format": ' }), 'shapes'));
    expect(broken.message).to.match(/^shapes\/resdet\.json: is not valid JSON/);
    const extraClass = JSON.stringify({ ...manifest, classes: [...manifest.classes, 'hexagon'] });
    const wrong = await failure(readModelPackageFromFiles(folderFiles('shapes', { 'resdet.json': extraClass }), 'shapes'));
    expect(wrong.message).to.match(/^shapes\/(boxHead|maskHead)\.onnx: .*class/);
  });
});
