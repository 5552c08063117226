/**
 * What the demo's tests and its benchmark (bench/demo.ts) share: the demo built with Vite's own
 * build() from demo/vite.config.ts (what `npm run demo:build` runs, into a folder of the caller's
 * choice), a plain static server for that folder that logs every request and the bytes sent,
 * and headless Chromium with the project's flags (WebGPU on SwiftShader) plus Chromium's fake
 * camera.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, relative } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { repoRoot } from '../helpers/reference.js';
import { CHROMIUM } from '../browser/harness.js';

export const demoConfig = join(repoRoot, 'demo', 'vite.config.ts');

/** Builds the demo as `npm run demo:build` does, into `outDir`. */
export async function buildDemo(outDir: string): Promise<void> {
  await build({ configFile: demoConfig, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
}

/** Every file of a folder, with its size, by path relative to the folder. */
export function listFiles(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.set(relative(dir, path), statSync(path).size);
    }
  };
  walk(dir);
  return out;
}

export interface Request { path: string; status: number; bytes: number }

const TYPES: Record<string, string> = {
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
  '.json': 'application/json', '.html': 'text/html', '.png': 'image/png', '.onnx': 'application/octet-stream',
};

export interface StaticSite { origin: string; requests: Request[]; close(): void }

/**
 * Serves `dir` on 127.0.0.1 as any static host would (index.html for '/'), logging each request
 * with its status and the bytes sent. `cors` adds Access-Control-Allow-Origin: * (a model
 * package on another origin).
 */
export async function serveStatic(dir: string, options: { cors?: boolean } = {}): Promise<StaticSite> {
  const requests: Request[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = join(dir, normalize(path.endsWith('/') ? `${path}index.html` : path));
    const found = file.startsWith(dir) && existsSync(file) && statSync(file).isFile();
    const body = found ? readFileSync(file) : 'not found';
    const headers: Record<string, string> = { 'content-type': found ? TYPES[extname(file)] ?? 'application/octet-stream' : 'text/plain' };
    if (options.cors) headers['access-control-allow-origin'] = '*';
    requests.push({ path, status: found ? 200 : 404, bytes: req.method === 'HEAD' ? 0 : Buffer.byteLength(body) });
    res.writeHead(found ? 200 : 404, headers).end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { origin, requests, close: () => { server.closeAllConnections(); server.close(); } };
}

/** test/browser/harness.ts's flags (WebGPU on SwiftShader) and Chromium's fake camera, allowed without asking. */
export const DEMO_CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];

export async function launchDemoChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the demo's tests drive Debian's chromium; install it with apt-get install chromium (npm run setup:test does)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: DEMO_CHROMIUM_ARGS });
}
