/**
 * `npm run test:unit` runs the tests that need neither Python (torchvision references) nor
 * chromium, selected by the file patterns of test/unit.mocharc.json. This test keeps that list
 * true in both directions: a unit file that reaches the reference would fail on a machine without
 * torchvision, and a test that needs neither but is not listed would silently go unrun by
 * test:unit.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/reference.js';

const testRoot = join(repoRoot, 'test');
/** Not unit tests for another reason: they need the npm registry (or a warm npm cache). */
const needsRegistry = new Set(['test/package/tarball.test.ts']);
/** What makes a test need more than Node: the helpers that run Python, the browser driver, GNU parallel. */
const needs: [string, RegExp][] = [
  ['python (torchvision reference)', /\btorchReference\b|\bpythonExecutable\b|['"`]python3?['"`]/],
  ['chromium', /playwright|chromium/i],
  ['GNU parallel', /spawnSync\('parallel'/],
];
/** Where those helpers are defined (and this test, which names them): importing one for something else is fine. */
const definitions = new Set([join(testRoot, 'helpers', 'reference.ts'), join(testRoot, 'package', 'unitSelection.test.ts')]);

function testSources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) testSources(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(relative(repoRoot, path));
  }
  return out.sort();
}

/** The test/ files a source imports, transitively (relative imports only). */
function importClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
    if (target.startsWith(testRoot) && existsSync(target)) importClosure(target, seen);
  }
  return seen;
}

/** Why a test file needs more than Node, e.g. "python (torchvision reference) via test/x.ts"; [] when it does not. */
function systemNeeds(testFile: string): string[] {
  const found: string[] = [];
  for (const file of importClosure(join(repoRoot, testFile))) {
    if (definitions.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const [what, pattern] of needs) if (pattern.test(text)) found.push(`${what} via ${relative(repoRoot, file)}`);
  }
  return found;
}

/** dist/test/a/*.test.js -> a RegExp over test/a/<name>.test.ts. */
function sourcePattern(spec: string): RegExp {
  const source = spec.replace(/^dist\//, '').replace(/\.js$/, '.ts');
  const body = source.split('**').map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*');
  return new RegExp(`^${body}$`);
}

describe('test:unit selection (test/unit.mocharc.json)', () => {
  const config = JSON.parse(readFileSync(join(testRoot, 'unit.mocharc.json'), 'utf8')) as { spec: string[] };
  const all = testSources(testRoot);
  const patterns = config.spec.map(sourcePattern);
  const unit = all.filter((f) => patterns.some((p) => p.test(f)));

  it('every pattern selects at least one test file', () => {
    for (const [i, p] of patterns.entries()) expect(all.some((f) => p.test(f)), `${config.spec[i]} matches no test file`).to.equal(true);
  });

  it('no selected test needs Python or chromium', () => {
    const wrong = unit.map((f) => [f, systemNeeds(f)] as const).filter(([, why]) => why.length > 0);
    expect(wrong.map(([f, why]) => `${f} is in test:unit but needs ${why.join(', ')}`)).to.deep.equal([]);
  });

  it('every test that needs neither is selected', () => {
    const missing = all.filter((f) => !unit.includes(f) && !needsRegistry.has(f) && systemNeeds(f).length === 0);
    expect(missing.map((f) => `${f} needs neither Python nor chromium: add it to test/unit.mocharc.json`)).to.deep.equal([]);
  });
});
