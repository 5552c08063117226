import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodePackageStore } from '../../src/download/packageStore.js';
import { type Detector, DownloadError, type DownloadProgress, loadModel, ModelPackageError, type Manifest, resdetCacheDir } from '../../src/index.js';
import { browserPackageStore } from '../../src/modelPackage/fetchBrowser.js';
import { fetchModelPackage } from '../../src/modelPackage/remote.js';
import { repoRoot } from '../helpers/reference.js';
import { startServer, type TestServer } from '../download/server.js';

const modelDir = join(repoRoot, 'models', 'shapes');
const manifest = JSON.parse(readFileSync(join(modelDir, 'resdet.json'), 'utf8')) as Manifest;
const onnxFiles = Object.values(manifest.files).map((f) => f.path);

/** The shapes package served under `prefix` ('/pkg/'), file by file. */
function packageFiles(prefix: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = { [`${prefix}resdet.json`]: readFileSync(join(modelDir, 'resdet.json')) };
  for (const f of onnxFiles) files[prefix + f] = readFileSync(join(modelDir, f));
  return files;
}

function onnxRequests(server: TestServer, prefix: string): number {
  return server.requests.filter((r) => r.path.startsWith(prefix) && r.path.endsWith('.onnx')).length;
}

function cachedBlobs(cache: string): string[] {
  const dir = join(cache, 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe('loadModel(url): packages over HTTP with a cache', function () {
  this.timeout(60_000);
  let server: TestServer;
  let cache: string;
  let savedEnv: string | undefined;
  before(async () => {
    savedEnv = process.env.RESDET_CACHE;
    server = await startServer({ ...packageFiles('/pkg/'), ...packageFiles('/cut/'), ...packageFiles('/bad/') });
  });
  beforeEach(() => {
    // A fresh cache per test, moved with RESDET_CACHE: never the user's real cache.
    cache = mkdtempSync(join(tmpdir(), 'resdet-cache-'));
    process.env.RESDET_CACHE = cache;
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));
  after(async () => {
    if (savedEnv === undefined) delete process.env.RESDET_CACHE;
    else process.env.RESDET_CACHE = savedEnv;
    await server.close();
  });

  it('downloads each file once: a second load requests only resdet.json, and detects as the folder does', async () => {
    const first = await loadModel(`${server.url}pkg`, { threads: 1 });
    await first.release();
    expect(onnxRequests(server, '/pkg/')).to.equal(onnxFiles.length);
    expect(cachedBlobs(cache)).to.deep.equal(Object.values(manifest.files).map((f) => f.sha256).sort());

    let fromUrl: Detector | undefined;
    let fromFolder: Detector | undefined;
    try {
      fromUrl = await loadModel(`${server.url}pkg/`, { threads: 1 });
      expect(onnxRequests(server, '/pkg/')).to.equal(onnxFiles.length); // none more
      expect(server.seen('/pkg/resdet.json')).to.have.length(2); // the manifest is fetched every time
      fromFolder = await loadModel(modelDir, { threads: 1 });
      const image = join(repoRoot, 'samples', 'shapes-1.png');
      const [a, b] = [await fromUrl.detect(image), await fromFolder.detect(image)];
      expect(a.detections.length).to.be.above(0);
      expect(a.detections.map((d) => [d.label, ...d.box])).to.deep.equal(b.detections.map((d) => [d.label, ...d.box]));
    } finally {
      await fromUrl?.release();
      await fromFolder?.release();
    }
  });

  it('reports progress per file: loaded never decreases and ends at the total; cached files once, complete', async () => {
    const events: DownloadProgress[] = [];
    await (await loadModel(`${server.url}pkg/`, { onProgress: (p) => events.push({ ...p }) })).release();
    for (const entry of Object.values(manifest.files)) {
      const mine = events.filter((e) => e.file === entry.path);
      expect(mine.length, entry.path).to.be.at.least(2);
      expect(mine.every((e) => e.total === entry.bytes && !e.cached && e.url === `${server.url}pkg/${entry.path}`)).to.equal(true);
      mine.slice(1).forEach((e, i) => expect(e.loaded).to.be.at.least(mine[i].loaded));
      expect(mine[0].loaded).to.equal(0);
      expect(mine[mine.length - 1].loaded).to.equal(entry.bytes);
    }
    events.length = 0;
    await (await loadModel(`${server.url}pkg/`, { onProgress: (p) => events.push({ ...p }) })).release();
    expect(events.map((e) => [e.file, e.loaded, e.cached])).to.deep.equal(Object.values(manifest.files).map((f) => [f.path, f.bytes, true]));
  });

  it('a cut connection leaves nothing in the cache that a later load trusts; the next load succeeds', async () => {
    const backbone = manifest.files.backbone;
    server.cut(`/cut/${backbone.path}`, 1_000_000);
    try {
      await loadModel(`${server.url}cut/`);
      expect.fail('expected a DownloadError');
    } catch (e) {
      expect(e).to.be.instanceOf(DownloadError);
      expect((e as Error).message).to.contain(`${server.url}cut/${backbone.path}`).and.match(/connection lost after \d+ of \d+ bytes/);
    }
    expect(server.seen(`/cut/${backbone.path}`)[0].sent).to.equal(1_000_000);
    expect(cachedBlobs(cache)).to.deep.equal([]); // no blob, no temporary file left behind
    await (await loadModel(`${server.url}cut/`)).release();
    expect(cachedBlobs(cache)).to.include(backbone.sha256);
  });

  it('refuses a file whose sha256 differs from the manifest, naming its URL, and caches nothing of it', async () => {
    const entry = manifest.files.rpnHead;
    const tampered = Uint8Array.from(server.files.get(`/pkg/${entry.path}`)!);
    tampered[tampered.length - 1] ^= 0xff; // same size, different bytes
    server.files.set(`/bad/${entry.path}`, tampered);
    try {
      await loadModel(`${server.url}bad/`);
      expect.fail('expected a ModelPackageError');
    } catch (e) {
      expect(e).to.be.instanceOf(ModelPackageError);
      expect((e as Error).message).to.contain(`${server.url}bad/${entry.path}`).and.contain('sha256');
    }
    expect(cachedBlobs(cache)).to.not.include(entry.sha256);
  });

  it('drops a cached file damaged on disk and downloads it again', async () => {
    await (await loadModel(`${server.url}pkg/`)).release();
    const entry = manifest.files.boxHead;
    const blob = join(cache, 'blobs', 'sha256', entry.sha256);
    const bytes = readFileSync(blob);
    bytes[100] ^= 1;
    writeFileSync(blob, bytes);
    const before = server.seen(`/pkg/${entry.path}`).length;
    await (await loadModel(`${server.url}pkg/`)).release();
    expect(server.seen(`/pkg/${entry.path}`).length).to.equal(before + 1);
    expect(readFileSync(blob).equals(readFileSync(join(modelDir, entry.path)))).to.equal(true);
  });

  it('names the URL when there is no package there (HTTP 404) or no server', async () => {
    try {
      await loadModel(`${server.url}nothing/`);
      expect.fail('expected a ModelPackageError');
    } catch (e) {
      expect(e).to.be.instanceOf(ModelPackageError);
      expect((e as Error).message).to.contain(`${server.url}nothing/resdet.json: HTTP 404`);
    }
    const gone = await startServer({});
    const url = gone.url;
    await gone.close();
    try {
      await loadModel(`${url}pkg/`);
      expect.fail('expected a DownloadError');
    } catch (e) {
      expect(e).to.be.instanceOf(DownloadError);
      expect((e as Error).message).to.contain(`${url}pkg/resdet.json: cannot fetch`).and.contain('ECONNREFUSED');
    }
  });

  it('the browser store (Cache API) serves a second load from the cache too', async () => {
    const entries = new Map<string, Response>();
    const fakeCache = {
      match: async (key: string) => entries.get(key)?.clone(),
      put: async (key: string, response: Response) => void entries.set(key, response),
      delete: async (key: string) => entries.delete(key),
    } as unknown as Cache;
    const before = onnxRequests(server, '/pkg/');
    const first = await fetchModelPackage(`${server.url}pkg/`, browserPackageStore(fakeCache));
    expect(onnxRequests(server, '/pkg/')).to.equal(before + onnxFiles.length);
    const second = await fetchModelPackage(`${server.url}pkg/`, browserPackageStore(fakeCache));
    expect(onnxRequests(server, '/pkg/')).to.equal(before + onnxFiles.length);
    expect(Buffer.from(second.files.backbone).equals(Buffer.from(first.files.backbone))).to.equal(true);
    expect(entries.size).to.equal(onnxFiles.length);
    expect(cachedBlobs(cache)).to.deep.equal([]); // the Node store was not used
    // The same store contract in Node:
    await fetchModelPackage(`${server.url}pkg/`, nodePackageStore(cache));
    expect(cachedBlobs(cache)).to.have.length(onnxFiles.length);
  });
});

describe('resdetCacheDir', () => {
  it('honours RESDET_CACHE, then the platform cache folder (XDG on Linux)', () => {
    expect(resdetCacheDir({ RESDET_CACHE: '/tmp/rc', XDG_CACHE_HOME: '/x' }, 'linux')).to.equal('/tmp/rc');
    expect(resdetCacheDir({ XDG_CACHE_HOME: '/x' }, 'linux')).to.equal('/x/resdet');
    expect(resdetCacheDir({ XDG_CACHE_HOME: 'relative' }, 'linux')).to.match(/\/\.cache\/resdet$/);
    expect(resdetCacheDir({}, 'darwin')).to.match(/\/Library\/Caches\/resdet$/);
    expect(resdetCacheDir({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32')).to.match(/resdet[\\/]Cache$/);
  });
});
