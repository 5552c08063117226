import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ResizeScaleRule, resolveConfig } from '../../src/config.js';
import { resizedSize } from '../../src/transform/index.js';
import { repoRoot, torchReference } from '../helpers/reference.js';

type Case = { h: number; w: number; minSize: number; maxSize: number } & Record<ResizeScaleRule, [number, number]>;

/**
 * config.transform.resizeScaleRule against test/reference/resize_rule_cases.py: torchvision 0.14's
 * own resize (float32 scale) and the float64 rule computed with plain Python doubles.
 */
describe('resize scale rules: torchvision-0.14 (float32) and float64', () => {
  for (const rule of ['torchvision-0.14', 'float64'] as const) {
    it(`'${rule}' gives the reference's size on every case (427x640 -> ${rule === 'float64' ? '800' : '799'}x1199)`, () => {
      const ref = torchReference('resize_rule_cases');
      const cases = ref.meta.cases as Case[];
      expect(cases[0]).to.deep.include({ h: 427, w: 640, 'torchvision-0.14': [799, 1199], float64: [800, 1199] });
      expect(cases.filter((c) => String(c['torchvision-0.14']) !== String(c.float64)).length, 'cases where the rules differ').to.be.above(10);
      for (const c of cases) {
        const cfg = resolveConfig({ transform: { minSize: c.minSize, maxSize: c.maxSize, resizeScaleRule: rule } }).transform;
        expect(resizedSize(c.h, c.w, cfg), `${c.h}x${c.w} (${c.minSize}/${c.maxSize})`).to.deep.equal(c[rule]);
      }
    });
  }

  it("torchvision 0.14's rule is the default", () => {
    expect(resizedSize(427, 640, resolveConfig(undefined).transform)).to.deep.equal([799, 1199]);
  });

  describe('resdet convert --resize-rule', () => {
    const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const work = mkdtempSync(join(tmpdir(), 'resdet-resize-rule-'));
    const convert = (out: string, ...args: string[]) => spawnSync(process.execPath,
      [main, 'convert', join(torchReference('convert_cases').folder, 'r18.pth'), '--out', join(work, out), ...args], { encoding: 'utf8' });

    it('stores the rule in config.transform.resizeScaleRule; without it the package keeps the default', () => {
      expect(convert('f64', '--resize-rule', 'float64').status).to.equal(0);
      const manifest = JSON.parse(readFileSync(join(work, 'f64', 'resdet.json'), 'utf8'));
      expect(manifest.config.transform.resizeScaleRule).to.equal('float64');
      expect(resizedSize(427, 640, resolveConfig(manifest.config).transform)).to.deep.equal([800, 1199]);
      const run = convert('default');
      expect(run.status).to.equal(0);
      expect(resolveConfig(JSON.parse(readFileSync(join(work, 'default', 'resdet.json'), 'utf8')).config).transform.resizeScaleRule).to.equal('torchvision-0.14');
    });

    it('refuses another rule as a usage error naming both', () => {
      const run = convert('bad', '--resize-rule', 'double');
      expect(run.status).to.equal(2);
      expect(run.stderr).to.contain("--resize-rule must be torchvision-0.14 or float64, got 'double'");
    });
  });
});
