/**
 * The package as users install it. Packs a copy of this working tree with `npm pack` (so
 * `prepare` builds it from a clean tree, as for a git install), installs the tarball into a fresh
 * app outside the repository with the README's install line, and uses it there: ESM and CommonJS
 * imports, detection with the bundled model, strict TypeScript against the shipped declarations,
 * and the `resdet` command. Needs the npm registry (or a warm npm cache) and nothing else: no
 * nuget, no GitHub.
 *
 * Set RESDET_KEEP_PACKAGE_TEST=1 to keep the temporary folder and print where it is.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { repoRoot } from '../helpers/reference.js';

/** The README's install line; the test installs the tarball in place of `resdet`. */
const readmeInstallLine = 'npm install resdet --onnxruntime-node-install=skip';
const shapeClasses = ['circle', 'rectangle', 'triangle', 'star', 'ring', 'cross'];
const sample = join(repoRoot, 'samples', 'shapes-1.png');

interface Run { status: number | null; stdout: string; stderr: string; ms: number }

/**
 * The environment of a user's shell: none of the npm_* variables `npm test` exports to its child
 * (among them this repository's `onnxruntime-node-install=skip` from .npmrc, which would hide the
 * very problem the install line solves), and no ONNXRUNTIME_NODE_INSTALL. Where the npm cache and
 * registry are is kept.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const k = key.toLowerCase();
    if ((k.startsWith('npm_') && !keep.has(k)) || k.startsWith('onnxruntime_node_install') || k === 'init_cwd') continue;
    env[key] = value;
  }
  return env;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 300_000): Run {
  const start = Date.now();
  const r = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${command} ${args.join(' ')} in ${cwd}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

function mustRun(command: string, args: string[], cwd: string, timeoutMs?: number): Run {
  const r = run(command, args, cwd, timeoutMs);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} in ${cwd} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * Files a fresh clone would have: git's tracked and untracked-but-not-ignored files; outside a git
 * checkout, everything but .gitignore's build outputs and caches.
 */
function copyWorkingTree(to: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (listed.error || listed.status !== 0) {
    const skip = new Set(['node_modules', 'dist', '.cache', '.git']);
    cpSync(repoRoot, to, { recursive: true, filter: (src) => !skip.has(relative(repoRoot, src).split(sep)[0]) });
    return;
  }
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    const from = join(repoRoot, file);
    if (!existsSync(from) || lstatSync(from).isDirectory()) continue; // deleted, or a submodule
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(from, join(to, file));
  }
}

/** Bytes of the files under a folder (apparent sizes; links not followed). */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

function filesUnder(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, out);
    else out.push(path);
  }
  return out;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Intersection over union of two [x1, y1, x2, y2] boxes. */
function iou(a: number[], b: number[]): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** The annotated boxes of samples/shapes-1.png, as [x1, y1, x2, y2] with their class names. */
function sampleTruth(): { className: string; box: number[] }[] {
  const coco = JSON.parse(readFileSync(join(repoRoot, 'samples', 'shapes-instances.json'), 'utf8')) as {
    images: { id: number; file_name: string }[];
    annotations: { image_id: number; category_id: number; bbox: number[] }[];
    categories: { id: number; name: string }[];
  };
  const image = coco.images.find((i) => i.file_name === 'shapes-1.png')!;
  return coco.annotations.filter((a) => a.image_id === image.id).map((a) => ({
    className: coco.categories.find((c) => c.id === a.category_id)!.name,
    box: [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]],
  }));
}

/** Each annotated object of the sample found with its class at box IoU >= 0.5 (the model's AP50 is 0.93). */
function expectSampleDetected(detections: { className: string; box: number[]; score: number }[]): void {
  expect(detections.length, 'detections on samples/shapes-1.png').to.be.greaterThan(0);
  for (const d of detections) expect(shapeClasses).to.include(d.className);
  const found = sampleTruth().filter((t) => detections.some((d) => d.className === t.className && iou(d.box, t.box) >= 0.5));
  expect(found.length, `annotated objects found among ${JSON.stringify(detections)}`).to.be.greaterThan(0);
}

const esmScript = `import { loadModel, ResdetError } from 'resdet';
import { nms } from 'resdet/postprocess';
const model = await loadModel('shapes', { provider: 'cpu', threads: 1 });
const result = await model.detect(process.argv[2], { scoreThreshold: 0.5, masks: 'rle' });
await model.release();
console.log(JSON.stringify({
  width: result.width, height: result.height, decoder: result.decoder,
  detections: result.detections.map((d) => ({ className: d.className, score: d.score, box: d.box, mask: d.mask?.format })),
  nms: typeof nms, ResdetError: typeof ResdetError,
}));
`;

const cjsScript = `const resdet = require('resdet');
const postprocess = require('resdet/postprocess');
const { version } = require('resdet/package.json');
resdet.loadModel('shapes', { threads: 1 }).then(async (model) => {
  const result = await model.detect(process.argv[2], { scoreThreshold: 0.5, masks: 'none' });
  await model.release();
  console.log(JSON.stringify({
    loadModel: typeof resdet.loadModel, ResdetError: typeof resdet.ResdetError, nms: typeof postprocess.nms, version,
    detections: result.detections.map((d) => ({ className: d.className, score: d.score, box: d.box })),
  }));
});
`;

/** A strict ESM TypeScript file using the public types, as the README shows them. */
const tsModule = `import { loadModel, ResdetError, type Detector, type DetectionResult } from 'resdet';
import { nms } from 'resdet/postprocess';

export async function objectArea(image: string | Buffer): Promise<number> {
  const model: Detector = await loadModel('shapes', { provider: 'cpu', threads: 1 });
  try {
    const result: DetectionResult = await model.detect(image, { scoreThreshold: 0.5, masks: 'rle', classes: ['circle', 2] });
    let area = 0;
    for (const { box: [x1, y1, x2, y2], className, score, mask } of result.detections) {
      const name: string = className;
      if (mask?.format === 'rle') area += mask.counts.length + mask.size[0];
      else if (mask?.format === 'binary') area += mask.data.reduce((s, v) => s + v, 0);
      area += (x2 - x1) * (y2 - y1) * score + name.length;
    }
    return area;
  } catch (e) {
    if (e instanceof ResdetError) throw new Error(\`resdet \${e.code}: \${e.message}\`, { cause: e });
    throw e;
  } finally {
    await model.release();
  }
}

export const kept: Int32Array = nms(new Float32Array([0, 0, 1, 1]), new Float32Array([0.9]), 0.5);
`;

/** CommonJS TypeScript requiring the ESM package (TypeScript >= 5.8 under module nodenext). */
const tsCommonJs = `import resdet = require('resdet');
export const load: typeof resdet.loadModel = resdet.loadModel;
export function isResdetError(e: unknown): e is InstanceType<typeof resdet.ResdetError> {
  return e instanceof resdet.ResdetError;
}
`;

describe('the npm package, installed into a fresh app', function () {
  this.timeout(600_000);
  let work = '';
  let app = '';
  let tarball = '';
  let packed: { size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };
  let install: Run;

  before(function () {
    this.timeout(600_000);
    work = mkdtempSync(join(tmpdir(), 'resdet-package-'));
    const tree = join(work, 'repo');
    copyWorkingTree(tree);
    // The clean tree has no dist/; prepare builds it with this repository's devDependencies.
    symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
    const pack = mustRun('npm', ['pack', '--json', '--pack-destination', work], tree);
    [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed & { filename: string })[];
    tarball = join(work, (packed as typeof packed & { filename: string }).filename);
    console.log(`      npm pack (prepare builds): ${(pack.ms / 1000).toFixed(1)} s; tarball ${mb(packed.size)}, ${packed.entryCount} files, ${mb(packed.unpackedSize)} unpacked`);

    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'resdet-package-test-app', version: '1.0.0', private: true }, null, 2));
    const [npm, ...args] = readmeInstallLine.split(' ');
    install = run(npm, args.map((a) => (a === 'resdet' ? tarball : a)), app);
    console.log(`      ${readmeInstallLine} (the tarball): exit ${install.status}, ${(install.ms / 1000).toFixed(1)} s`);
    for (const line of `${install.stdout}\n${install.stderr}`.split('\n').filter((l) => l.trim())) console.log(`        | ${line}`);
    if (existsSync(join(app, 'node_modules'))) console.log(`      the app's node_modules: ${mb(folderBytes(join(app, 'node_modules')))}`);
  });

  after(() => {
    if (process.env.RESDET_KEEP_PACKAGE_TEST) console.log(`      kept ${work}`);
    else if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the README carries the install line this test uses', () => {
    expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).to.include(readmeInstallLine);
  });

  it('the tarball ships the build, the bundled model, README, LICENSE and CHANGELOG; no source maps, tests or benchmarks', () => {
    const paths = packed.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/browser.js', 'dist/src/cli/main.js', 'dist/postprocess/index.js', 'dist/postprocess/index.d.ts', 'models/shapes/resdet.json']) {
      expect(paths, f).to.include(f);
    }
    expect(paths.filter((p) => p.endsWith('.map'))).to.deep.equal([]);
    expect(paths.filter((p) => /^dist\/(test|bench)\//.test(p))).to.deep.equal([]);
    expect(paths.filter((p) => !/^(dist\/(src|onnx|gpu|backbones|heads|postprocess)|models)\//.test(p) && !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(p))).to.deep.equal([]);
  });

  it('installs with the README line and nothing but the npm registry: no CUDA download, no onnxruntime-web', () => {
    expect(install.status, `${install.stdout}\n${install.stderr}`).to.equal(0);
    const ortNode = join(app, 'node_modules', 'onnxruntime-node');
    expect(existsSync(join(ortNode, 'package.json')), 'onnxruntime-node installed').to.equal(true);
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(existsSync(join(ortNode, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so')), 'CUDA provider not downloaded').to.equal(false);
    }
    expect(existsSync(join(app, 'node_modules', 'onnxruntime-web')), 'onnxruntime-web is for browsers only').to.equal(false);
  });

  it('the installed JavaScript points at no source map', () => {
    const pkg = join(app, 'node_modules', 'resdet');
    const mapped = filesUnder(join(pkg, 'dist')).filter((f) => /\.(js|d\.ts)$/.test(f) && readFileSync(f, 'utf8').includes('sourceMappingURL='));
    expect(mapped.map((f) => f.slice(pkg.length + 1))).to.deep.equal([]);
  });

  it("ESM: import { loadModel } from 'resdet' detects the sample's objects with the bundled model", () => {
    writeFileSync(join(app, 'detect.mjs'), esmScript);
    const r = mustRun(process.execPath, ['detect.mjs', sample], app);
    const out = JSON.parse(r.stdout) as { width: number; height: number; decoder: string; detections: { className: string; score: number; box: number[]; mask?: string }[]; nms: string; ResdetError: string };
    console.log(`      ESM: ${out.detections.length} detections (${out.detections.map((d) => `${d.className} ${d.score.toFixed(2)}`).join(', ')}), decoder ${out.decoder}, ${r.ms} ms`);
    const png = readFileSync(sample);
    expect([out.width, out.height]).to.deep.equal([png.readUInt32BE(16), png.readUInt32BE(20)]);
    expectSampleDetected(out.detections);
    for (const d of out.detections) expect(d.mask).to.equal('rle');
    expect([out.nms, out.ResdetError]).to.deep.equal(['function', 'function']);
  });

  it("CommonJS: require('resdet') loads and detects (require of ES modules)", () => {
    writeFileSync(join(app, 'detect.cjs'), cjsScript);
    const r = mustRun(process.execPath, ['detect.cjs', sample], app);
    if (r.stderr.trim()) console.log(`      CommonJS stderr: ${r.stderr.trim()}`);
    const out = JSON.parse(r.stdout) as { loadModel: string; ResdetError: string; nms: string; version: string; detections: { className: string; score: number; box: number[] }[] };
    expect([out.loadModel, out.ResdetError, out.nms]).to.deep.equal(['function', 'function', 'function']);
    expect(out.version).to.equal((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    expectSampleDetected(out.detections);
  });

  it('strict TypeScript (module nodenext) compiles ESM and CommonJS files against the installed declarations', () => {
    writeFileSync(join(app, 'check.mts'), tsModule);
    writeFileSync(join(app, 'check-cjs.cts'), tsCommonJs);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022'], noEmit: true,
        // A Node app's types, from this repository (the app installs only resdet).
        types: ['node'], typeRoots: [join(repoRoot, 'node_modules', '@types')],
        // Declarations are checked too, but only resdet's errors count: other packages' are theirs.
        skipLibCheck: false,
      },
      files: ['check.mts', 'check-cjs.cts'],
    }, null, 2));
    const r = run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], app);
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    const ours = errors.filter((l) => !l.startsWith('node_modules/') || l.startsWith('node_modules/resdet/'));
    const theirs = errors.filter((l) => !ours.includes(l));
    if (theirs.length) console.log(`      (errors in other packages' declarations, not counted:\n        ${theirs.join('\n        ')})`);
    expect(ours).to.deep.equal([]);
    expect(errors.length > 0 || r.status === 0, r.stdout + r.stderr).to.equal(true);
  });

  it('without sharp (an optional dependency): images decode, and previews and datasets encode, with jimp', () => {
    // As where sharp cannot be installed (or `npm install --omit=optional`): the package must not need it.
    const sharp = join(app, 'node_modules', 'sharp');
    const away = join(work, 'sharp-moved-away');
    writeFileSync(join(app, 'detect.mjs'), esmScript);
    renameSync(sharp, away);
    try {
      const r = mustRun(process.execPath, ['detect.mjs', sample], app);
      const out = JSON.parse(r.stdout) as { decoder: string; detections: { className: string; score: number; box: number[] }[] };
      expect(out.decoder).to.match(/jimp/);
      expectSampleDetected(out.detections);
      const previews = join(work, 'out-without-sharp');
      mustRun('npx', ['--no', '--', 'resdet', 'detect', sample, '--out', previews], app);
      expect(readFileSync(join(previews, 'shapes-1.png')).subarray(1, 4).toString()).to.equal('PNG');
      const dataset = join(work, 'dataset-without-sharp');
      mustRun('npx', ['--no', '--', 'resdet', 'dataset', '--out', dataset, '--train', '1', '--val', '1'], app);
      expect(readFileSync(join(dataset, 'train', '000001.png')).subarray(1, 4).toString()).to.equal('PNG');
    } finally {
      renameSync(away, sharp);
    }
  });

  it('the resdet command: --help, --version, and detect writing JSON and a preview', () => {
    const help = mustRun('npx', ['--no', '--', 'resdet', '--help'], app);
    expect(help.stdout).to.match(/^usage: resdet <command>/);
    const version = mustRun('npx', ['--no', '--', 'resdet', '--version'], app);
    expect(version.stdout.trim()).to.match(/^resdet \d+\.\d+\.\d+/);

    const images = join(work, 'images');
    mkdirSync(images);
    copyFileSync(sample, join(images, 'sample.png'));
    const out = join(work, 'out');
    const detect = mustRun('npx', ['--no', '--', 'resdet', 'detect', join(images, 'sample.png'), '--out', out], app);
    console.log(`      resdet detect: ${detect.ms} ms`);
    expect(existsSync(join(out, 'sample.png')), 'preview written').to.equal(true);
    const written = JSON.parse(readFileSync(join(out, 'sample.json'), 'utf8')) as { detections: { className: string; score: number; box: number[] }[] };
    expectSampleDetected(written.detections);
  });
});
