import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers/reference.js';

/** A page's code as a TypeScript user writes it against the browser entry. */
const CONSUMER = `
import { loadModel, ProviderUnavailableError, ImageDecodeError, type Detector, type ImageInput } from 'resdet';

export async function run(img: HTMLImageElement, video: HTMLVideoElement, file: File): Promise<number> {
  const inputs: ImageInput[] = [
    img, video, file, new Blob([]), document.createElement('canvas'), new OffscreenCanvas(1, 1),
    await createImageBitmap(file), new ImageData(1, 1), '/a.png', new URL('https://example.com/a.png'), new Uint8Array(4),
  ];
  let model: Detector;
  try {
    model = await loadModel('/models/shapes/', { provider: 'wasm', wasmPaths: '/ort/', threads: 1 });
  } catch (e) {
    if (e instanceof ProviderUnavailableError) return -1;
    throw e;
  }
  try {
    const one = await model.detect(inputs[0], { scoreThreshold: 0.5, masks: 'rle' });
    const many = await model.detect(inputs);
    return one.detections.length + many.length;
  } catch (e) {
    if (e instanceof ImageDecodeError) return -2;
    throw e;
  } finally {
    await model.release();
  }
}
`;

/**
 * The browser entry's declarations (dist/src/browser.d.ts and all they reference) need only the
 * DOM library: no @types/node, no Buffer, no NodeJS namespace.
 */
describe('browser declarations', () => {
  it("a strict TypeScript page importing 'resdet' with the browser condition compiles against dist/src/browser.d.ts with lib DOM and types: [] (no @types/node)", function () {
    this.timeout(60_000);
    // Inside the package, so that 'resdet' resolves to this package by its exports (self-reference),
    // as it resolves in an app's node_modules.
    mkdirSync(join(repoRoot, '.cache'), { recursive: true });
    const dir = mkdtempSync(join(repoRoot, '.cache', 'types-'));
    try {
      const file = join(dir, 'page.ts');
      writeFileSync(file, CONSUMER);
      const program = ts.createProgram([file], {
        strict: true, noEmit: true, types: [], skipLibCheck: false,
        target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler,
        // What a bundler resolves for a page: the 'browser' export condition, types included.
        customConditions: ['browser'],
        // esnext.disposable: Detector[Symbol.asyncDispose] (`await using`); @types/node declares it too.
        lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n') + (d.file ? ` (${d.file.fileName})` : ''));
      expect(diagnostics).to.deep.equal([]);
      const files = program.getSourceFiles().map((f) => f.fileName);
      expect(files.filter((f) => f.includes('@types/node'))).to.deep.equal([]);
      const ours = program.getSourceFiles().filter((f) => f.fileName.startsWith(join(repoRoot, 'dist')));
      expect(ours.map((f) => f.fileName)).to.include(join(repoRoot, 'dist', 'src', 'browser.d.ts'));
      const nodeNames = ours.filter((f) => /\bBuffer\b|\bNodeJS\b/.test(f.text)).map((f) => f.fileName);
      expect(nodeNames, 'declarations naming Buffer or NodeJS').to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
