// Before the package build (npm run build:package): removes from the shipped dist/ folders the
// source maps (the package ships none) and any output whose .ts source no longer exists, so a
// renamed or deleted module is never packed. Everything else is left in place for tsc to rewrite,
// so dist/ stays usable by tests running at the same time.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const shipped = ['src', 'onnx', 'backbones', 'heads', 'postprocess', 'gpu'];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

let removed = 0;
for (const folder of shipped) {
  const out = join(root, 'dist', folder);
  if (!existsSync(out)) continue;
  for (const file of files(out)) {
    const rel = relative(join(root, 'dist'), file);
    const base = rel.replace(/\.map$/, '').replace(/\.(d\.ts|d\.mts|js|mjs)$/, '');
    const stale = !['.ts', '.mts', '.tsx'].some((ext) => existsSync(join(root, base + ext)));
    if (file.endsWith('.map') || stale) {
      rmSync(file);
      removed++;
    }
  }
}
if (removed) console.log(`clean-package-build: removed ${removed} source maps and stale outputs from dist/`);
