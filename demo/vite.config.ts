/**
 * The demo's build: `npm run demo` (dev server on 127.0.0.1) and `npm run demo:build` (a static
 * folder, demo/dist/, that any static server hosts). The page imports resdet's browser entry from
 * this repository's source (`resdet` -> src/browser.ts, as the package's 'browser' export
 * condition would pick it), so the demo always runs the library it sits next to. Vite emits
 * onnxruntime-web's two .wasm files as hashed assets; this config adds the bundled model package
 * (models/shapes, under models/shapes/ with its file names kept, since resdet.json names them) and
 * the sample images (samples/*.png), served by the dev server and copied by the build, so both
 * work offline.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const demoDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(demoDir, '..');

/** The files the page fetches from the repository, by the URL path they get (relative to the page). */
function bundledFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const model = join(repoRoot, 'models', 'shapes');
  const manifest = JSON.parse(readFileSync(join(model, 'resdet.json'), 'utf8')) as { files: Record<string, { path: string }> };
  for (const name of ['resdet.json', ...Object.values(manifest.files).map((f) => f.path)]) files.set(`models/shapes/${name}`, join(model, name));
  for (const name of readdirSync(join(repoRoot, 'samples')).filter((n) => n.endsWith('.png')).sort()) files.set(`samples/${name}`, join(repoRoot, 'samples', name));
  return files;
}

const TYPES: Record<string, string> = { '.json': 'application/json', '.png': 'image/png', '.onnx': 'application/octet-stream' };

/** Serves the bundled model and samples in dev, emits them into the build, and lists the samples for the page. */
function bundledAssets(): Plugin {
  const files = bundledFiles();
  const samplesModule = '\0demo-samples';
  return {
    name: 'resdet-demo-bundled-assets',
    resolveId: (id) => (id === 'virtual:demo-samples' ? samplesModule : undefined),
    load(id) {
      if (id !== samplesModule) return undefined;
      const samples = [...files.keys()].filter((p) => p.startsWith('samples/'));
      return `export const samples = ${JSON.stringify(samples)};\nexport const bundledModel = 'models/shapes/';\n`;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
        const file = files.get(path);
        if (!file) return next();
        const ext = path.slice(path.lastIndexOf('.'));
        res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'content-length': statSync(file).size });
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const [fileName, file] of files) this.emitFile({ type: 'asset', fileName, source: readFileSync(file) });
    },
  };
}

export default defineConfig({
  root: demoDir,
  // Relative URLs: the folder works from any path of any static server.
  base: './',
  resolve: {
    alias: [
      { find: /^resdet$/, replacement: join(repoRoot, 'src', 'browser.ts') },
      { find: /^resdet\/postprocess$/, replacement: join(repoRoot, 'postprocess', 'index.ts') },
    ],
  },
  plugins: [bundledAssets()],
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repoRoot] } },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    outDir: join(demoDir, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // onnxruntime-web's JS is large by nature; the .wasm files are assets, not chunks.
    chunkSizeWarningLimit: 2048,
    // The minifier would rename resdet's error classes, and the page shows `error.name`
    // (ImageDecodeError, ModelPackageError, ...) beside `error.code`.
    rolldownOptions: {
      output: { keepNames: true },
      // Rolldown's note that plugins took a share of the build: about Vite's own plugins, not ours.
      checks: { bundlerTimings: false },
    },
  },
});
