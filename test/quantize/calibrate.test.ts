/** Activation-range rules of the int8 calibration: entropy (KL) thresholds on known distributions. */
import { expect } from 'chai';
import { CalibrationStats, entropyThreshold } from '../../src/quantize/calibrate.js';

/** Seeded standard normal values (Box-Muller over a small LCG). */
function normal(n: number, seed = 1): Float32Array {
  let s = seed;
  const u = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

describe('int8 calibration ranges', () => {
  it('entropy clips rare outliers of a normal distribution, keeping its body (a few sigma)', () => {
    const values = normal(200_000);
    values[0] = 80; // outliers that min-max would stretch the scale to
    values[1] = -60;
    const t = entropyThreshold(values);
    expect(t).to.be.within(2.5, 12);
  });

  it('entropy keeps nearly the whole range of a uniform distribution, which has no tail to clip', () => {
    let s = 7;
    const values = Float32Array.from({ length: 100_000 }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 3);
    expect(entropyThreshold(values)).to.be.within(2.7, 3.0);
  });

  it('entropy clips a side far from zero in its tail (a logit map all below -8), not at its nearest value', () => {
    const stats = new CalibrationStats();
    const logits = normal(50_000, 5).map((v) => -30 + 6 * v).map((v) => Math.min(-8, v));
    stats.observe('rpnHead', 'objectness', logits);
    const { min, max } = stats.ranges('rpnHead', 'entropy').get('objectness')!;
    expect(max).to.equal(-8);
    expect(min).to.be.within(-60, -40);
  });

  it('entropy of all zeros is 0; ranges stay inside the values seen and never cross zero wrongly', () => {
    expect(entropyThreshold(new Float32Array(100))).to.equal(0);
    const stats = new CalibrationStats();
    const relu = normal(50_000, 3).map((v) => Math.max(0, v));
    relu[5] = 40;
    stats.observe('boxHead', 'x', relu);
    const { min, max } = stats.ranges('boxHead', 'entropy').get('x')!;
    expect(min).to.equal(0);
    expect(max).to.be.within(1.5, 12);
    const minmax = stats.ranges('boxHead', 'minmax').get('x')!;
    expect(minmax).to.deep.equal({ min: 0, max: 40 });
  });
});
