/**
 * `npm run bench:demo [-- --runs 5 --webgpu-runs 2 --image samples/shapes-3.png]`: the browser
 * demo's speed and weight, WASM beside WebGPU (SwiftShader here, which is a CPU: its figures say
 * nothing of a real GPU). The demo is built as `npm run demo:build` builds it, served by a plain
 * static server that counts the bytes it sends, and opened in headless Chromium; per provider, in a
 * fresh browser profile:
 *   - first visit: model load (cold: nothing cached), time from navigation to the first result
 *     drawn, and the bytes the visit downloaded until then;
 *   - warm per-frame time: "Run again" on the same image, median of the runs;
 *   - second visit (reload, same profile): model load with the package files from the Cache API,
 *     and the bytes that visit downloaded;
 * and the build's size by kind (JS, CSS, HTML, wasm, model, samples).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { buildDemo, launchDemoChromium, listFiles, serveStatic, type StaticSite } from '../test/demo/site.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'webgpu-runs': { type: 'string', default: '2' },
    image: { type: 'string', default: 'samples/shapes-3.png' },
  },
});

const mb = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);
const secs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

interface Visit { loadMs: number; firstResultMs: number; bytes: number; modelBytes: number }
interface ProviderFigures { cold: Visit; warm: number[]; cached: Visit }

/** Runs so far (the page's counter). */
const runs = (page: Page) => page.locator('#runs').textContent().then(Number);

/** Waits for the page's `n`th network run; an error shown in the page stops the benchmark. */
async function untilRuns(page: Page, n: number): Promise<void> {
  await page.waitForFunction((k) => Number(document.getElementById('runs')!.textContent) >= k || document.getElementById('errors')!.children.length > 0, n, { timeout: 0 });
  const errors = await page.locator('#errors').textContent();
  if (errors) throw new Error(`the demo shows an error: ${errors}`);
  await page.waitForFunction(() => document.body.dataset.busy === 'false', undefined, { timeout: 0 });
}

/** Navigates (or reloads) and measures the visit until its first result. */
async function visit(page: Page, site: StaticSite, url: string | undefined): Promise<Visit> {
  site.requests.length = 0;
  if (url) await page.goto(url);
  else await page.reload();
  await untilRuns(page, 1);
  const marks = await page.evaluate(() => {
    const loaded = performance.getEntriesByName('resdet:model-loaded')[0] as PerformanceMark;
    return { loadMs: (loaded.detail as { loadMs: number }).loadMs, firstResultMs: performance.getEntriesByName('resdet:first-result')[0].startTime, provider: (loaded.detail as { provider: string }).provider };
  });
  const bytes = site.requests.reduce((n, r) => n + r.bytes, 0);
  const modelBytes = site.requests.filter((r) => r.path.startsWith('/models/')).reduce((n, r) => n + r.bytes, 0);
  return { loadMs: marks.loadMs, firstResultMs: marks.firstResultMs, bytes, modelBytes };
}

async function measure(browser: Browser, site: StaticSite, provider: 'wasm' | 'webgpu', warmRuns: number): Promise<ProviderFigures> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const url = `${site.origin}/?provider=${provider}&image=${encodeURIComponent(values.image!)}`;
    const cold = await visit(page, site, url);
    console.error(`  ${provider}: first result after ${secs(cold.firstResultMs)}; ${warmRuns} warm runs...`);
    const warm: number[] = [];
    for (let i = 0; i < warmRuns; i++) {
      const n = await runs(page);
      await page.click('#run-again');
      await untilRuns(page, n + 1);
      warm.push(Number(await page.locator('#timings dd[data-stage=total]').getAttribute('data-ms')));
    }
    const cached = await visit(page, site, undefined);
    return { cold, warm, cached };
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'resdet-bench-demo-'));
  const outDir = join(work, 'dist');
  let site: StaticSite | undefined;
  let browser: Browser | undefined;
  try {
    await buildDemo(outDir);
    const files = listFiles(outDir);
    const kinds = new Map<string, number>();
    for (const [path, size] of files) {
      const kind = path.startsWith('models/') ? 'model (models/shapes)' : path.startsWith('samples/') ? 'samples' : path.endsWith('.wasm') ? path.replace(/^assets\/|-[\w-]{8}(?=\.wasm$)/g, '') : path.split('.').pop()!.toUpperCase();
      kinds.set(kind, (kinds.get(kind) ?? 0) + size);
    }
    site = await serveStatic(outDir);
    browser = await launchDemoChromium();
    console.error(`demo built (${files.size} files); measuring on ${values.image}`);
    const wasm = await measure(browser, site, 'wasm', Number(values.runs));
    const webgpu = await measure(browser, site, 'webgpu', Number(values['webgpu-runs']));

    console.log('\nBuild (demo/dist/):');
    for (const [kind, size] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${kind.padEnd(40)} ${mb(size).padStart(9)}`);
    console.log(`  ${'total'.padEnd(40)} ${mb([...files.values()].reduce((a, b) => a + b, 0)).padStart(9)}`);
    const rows: [string, (f: ProviderFigures) => string][] = [
      ['model load, cold (first visit)', (f) => secs(f.cold.loadMs)],
      ['model load, cached (second visit)', (f) => secs(f.cached.loadMs)],
      ['time to first result (first visit)', (f) => secs(f.cold.firstResultMs)],
      ['time to first result (second visit)', (f) => secs(f.cached.firstResultMs)],
      ['warm per-frame, median', (f) => `${secs(median(f.warm))} (${f.warm.length} runs)`],
      ['bytes downloaded, first visit', (f) => mb(f.cold.bytes)],
      ['  of which the model', (f) => mb(f.cold.modelBytes)],
      ['bytes downloaded, second visit', (f) => mb(f.cached.bytes)],
    ];
    console.log(`\nOn ${values.image} (headless Chromium; WebGPU on SwiftShader, a CPU):`);
    console.log(`  ${''.padEnd(38)} ${'WASM'.padStart(16)} ${'WebGPU (SwiftShader)'.padStart(22)} ${'WebGPU / WASM'.padStart(14)}`);
    const ratio = (a: number, b: number) => (b / a).toFixed(2);
    const ratios: Record<string, string> = {
      'model load, cold (first visit)': ratio(wasm.cold.loadMs, webgpu.cold.loadMs),
      'time to first result (first visit)': ratio(wasm.cold.firstResultMs, webgpu.cold.firstResultMs),
      'warm per-frame, median': ratio(median(wasm.warm), median(webgpu.warm)),
    };
    for (const [label, value] of rows) console.log(`  ${label.padEnd(38)} ${value(wasm).padStart(16)} ${value(webgpu).padStart(22)} ${(ratios[label] ?? '').padStart(14)}`);
  } finally {
    await browser?.close();
    site?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
