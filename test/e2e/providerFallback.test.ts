import { expect } from 'chai';
import { runInChild } from '../helpers/child.js';
import { repoRoot } from '../helpers/reference.js';

/**
 * Providers are honest: on a machine without a WebGPU adapter (here: Vulkan pointed at no driver),
 * `provider: 'webgpu'` is a ProviderUnavailableError saying how to get one, and with
 * `fallback: 'cpu'` the model runs on the CPU and every result says so.
 */
const noAdapter = { VK_ICD_FILENAMES: '/nonexistent/resdet-no-vulkan-driver.json' };

describe('provider fallback', function () {
  this.timeout(120_000);
  it("webgpu without an adapter: ProviderUnavailableError (code PROVIDER_UNAVAILABLE) naming SwiftShader and fallback: 'cpu'", () => {
    const run = runInChild(`
      import { loadModel } from '${repoRoot}/dist/src/index.js';
      try { await loadModel('shapes', { provider: 'webgpu' }); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
    `, 90_000, noAdapter);
    expect(run.status, run.stderr).to.equal(0);
    const error = JSON.parse(run.stdout.trim().split('\n').pop()!) as { name: string; code: string; message: string };
    expect(error.name).to.equal('ProviderUnavailableError');
    expect(error.code).to.equal('PROVIDER_UNAVAILABLE');
    expect(error.message).to.match(/provider 'webgpu'.*SwiftShader.*fallback: 'cpu'/s);
  });

  it("webgpu without an adapter, fallback: 'cpu': runs on the CPU, and detector.provider, result.provider and result.providerFallback say so", () => {
    const run = runInChild(`
      import { loadModel } from '${repoRoot}/dist/src/index.js';
      const model = await loadModel('shapes', { provider: 'webgpu', fallback: 'cpu' });
      const result = await model.detect('${repoRoot}/samples/shapes-1.png', { masks: 'none' });
      console.log(JSON.stringify({ detector: model.provider, result: result.provider, why: result.providerFallback, detections: result.detections.length }));
      await model.release();
    `, 90_000, noAdapter);
    expect(run.status, run.stderr).to.equal(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { detector: string; result: string; why: string; detections: number };
    expect(out.detector).to.equal('cpu');
    expect(out.result).to.equal('cpu');
    expect(out.why).to.match(/provider 'webgpu'/);
    expect(out.detections).to.be.above(0);
  });

  it('refuses a fallback it does not know', () => {
    const run = runInChild(`
      import { loadModel } from '${repoRoot}/dist/src/index.js';
      try { await loadModel('shapes', { provider: 'webgpu', fallback: 'wasm' }); } catch (e) { console.log(e.code + ': ' + e.message); }
    `, 60_000, noAdapter);
    expect(run.stdout).to.match(/PROVIDER_UNAVAILABLE: .*fallback must be 'cpu' or unset/);
  });
});
