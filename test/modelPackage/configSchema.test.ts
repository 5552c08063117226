import { expect } from 'chai';
import { ModelPackageError, validateManifest } from '../../src/modelPackage/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/reference.js';

/** resdet.json shapes found by `npm run fuzz`: refused with ModelPackageError, never a TypeError or a stack overflow. */
describe('resdet.json validation against fuzzed shapes', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'models', 'shapes', 'resdet.json'), 'utf8')) as Record<string, unknown>;
  const refuse = (m: unknown, pattern: RegExp) => {
    let error: unknown;
    try {
      validateManifest(m, 'x/resdet.json');
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ModelPackageError);
    expect((error as Error).message).to.match(pattern);
  };

  it("refuses a '__proto__' key in a config stage or as a stage (no lookup through Object.prototype)", () => {
    refuse(JSON.parse(JSON.stringify(manifest).replace('"transform":{', '"transform":{"__proto__":1,')), /'config\.transform\.__proto__' is not a field of config\.transform/);
    refuse(JSON.parse(JSON.stringify(manifest).replace('"config":{', '"config":{"__proto__":{},')), /'config\.__proto__' is not a stage of the config/);
    refuse(JSON.parse(JSON.stringify(manifest).replace('"config":{', '"config":{"constructor":{},')), /'config\.constructor' is not a stage of the config/);
  });

  it('names a 100,000-deep nested value without overflowing the stack, and briefly', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    const m = JSON.parse(JSON.stringify(manifest)) as { config: { transform: Record<string, unknown> } };
    m.config.transform.minSize = deep;
    refuse(m, /'config\.transform\.minSize' must be an integer in \[1, 8192\], found \[\[\[\[\.\.\.\]\]\]\]/);
    refuse({ ...manifest, classes: deep }, /classes/);
  });
});
