import { expect } from 'chai';
import { build } from 'esbuild';
import { join } from 'node:path';
import { repoRoot } from './helpers/reference.js';

/** The two entry points import cleanly, each with its own runtime and nothing of the other's. */
describe('entry points', () => {
  it('the browser entry bundles for the browser with no Node module, sharp or onnxruntime-node in it', async () => {
    const result = await build({
      entryPoints: [join(repoRoot, 'dist', 'src', 'browser.js')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      external: ['onnxruntime-web'],
      logLevel: 'silent',
    });
    expect(result.errors).to.deep.equal([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => /node_modules|^node:/.test(f))).to.deep.equal([]);
    const code = result.outputFiles[0].text;
    expect(code).to.not.match(/from ["'](node:|sharp|onnxruntime-node|jimp)/);
    // Each provider's own build, imported when asked for; never the default (JSEP) build.
    expect(code).to.match(/import\(["']onnxruntime-web\/wasm["']\)/).and.match(/import\(["']onnxruntime-web\/webgpu["']\)/);
    expect(code).to.not.match(/["']onnxruntime-web["']/);
  });

  it("bundled with onnxruntime-web, the browser entry holds its wasm and webgpu builds, which name only their own .wasm, not the 28 MB JSEP one", async () => {
    const result = await build({
      stdin: { contents: "export { loadModel } from 'resdet';", resolveDir: repoRoot },
      bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent',
    });
    const ort = Object.keys(result.metafile.inputs).filter((f) => f.includes('onnxruntime-web/')).map((f) => f.split('/').pop()).sort();
    expect(ort).to.deep.equal(['ort.wasm.bundle.min.mjs', 'ort.webgpu.bundle.min.mjs']);
    const wasmFiles = [...new Set(result.outputFiles[0].text.match(/ort-wasm[\w.-]*\.wasm/g))].sort();
    expect(wasmFiles).to.deep.equal(['ort-wasm-simd-threaded.asyncify.wasm', 'ort-wasm-simd-threaded.wasm']);
  });

  it("package exports pick the entry by condition: Node's default, the browser's 'browser'", async () => {
    const node = await import('resdet');
    expect(node.loadModel).to.be.a('function');
    expect(node.convertCheckpoint).to.be.a('function');
    const browserBundle = await build({
      stdin: { contents: "export { loadModel } from 'resdet';", resolveDir: repoRoot },
      bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true,
      external: ['onnxruntime-web'], logLevel: 'silent',
    });
    expect(Object.keys(browserBundle.metafile.inputs)).to.include('dist/src/browser.js');
  });
});
