import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CheckpointError } from '../../src/checkpoint/index.js';
import {
  checkpointCachePath, checkpointFileName, downloadCheckpoint, DownloadError, hashPrefixOf, progressReporter,
} from '../../src/download/index.js';
import type { DownloadProgress } from '../../src/modelPackage/remote.js';
import type { Manifest } from '../../src/modelPackage/manifest.js';
import { repoRoot } from '../helpers/reference.js';
import { startServer, type TestServer } from './server.js';

const checkpoint = readFileSync(join(repoRoot, 'test', 'fixtures', 'shapes', 'model_final.pth'));
const sha256 = createHash('sha256').update(checkpoint).digest('hex');
/** The fixture under a torchvision-style name carrying its own sha256 prefix (and so eps 0). */
const torchvisionName = `maskrcnn_resnet50_fpn_coco-${sha256.slice(0, 8)}.pth`;
const CUT = 3_000_000;

function digestOf(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('checkpoint downloads (resdet convert <url>)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let cache: string;
  before(async () => {
    server = await startServer({
      [`/models/${torchvisionName}`]: checkpoint,
      '/models/plain.pth': checkpoint,
      '/models/maskrcnn_resnet50_fpn_coco-00000000.pth': checkpoint,
    });
  });
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'resdet-ckpt-cache-'));
    server.ranges = true;
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));
  after(() => server.close());

  it('names files as torchvision and torch.hub do', () => {
    expect(checkpointFileName(new URL('https://download.pytorch.org/models/maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth'))).to.equal('maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth');
    expect(checkpointFileName(new URL('https://h/a%20b.pth?x=1'))).to.equal('a b.pth');
    expect(checkpointFileName(new URL('https://h/'))).to.equal('checkpoint.pth');
    expect(hashPrefixOf('maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth')).to.equal('bf2d0c1e');
    expect(hashPrefixOf('model_final.pth')).to.equal(undefined);
  });

  it('resumes a cut download with Range + If-Range, receiving only the rest', async () => {
    const path = `/models/${torchvisionName}`;
    const url = new URL(path, server.url);
    server.cut(path, CUT);
    const err = await downloadCheckpoint(url, { cacheDir: cache }).then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(DownloadError);
    expect(err!.message).to.contain(url.href).and.contain('run the command again to resume');
    const target = checkpointCachePath(url, cache);
    expect(existsSync(target)).to.equal(false); // nothing a later run would trust
    const kept = statSync(`${target}.partial`).size;
    expect(kept).to.be.within(1, CUT);

    const events: DownloadProgress[] = [];
    const got = await downloadCheckpoint(url, { cacheDir: cache, onProgress: (p) => events.push({ ...p }) });
    const second = server.seen(path)[1];
    expect(second.range).to.equal(`bytes=${kept}-`);
    expect(second.ifRange).to.match(/^"[0-9a-f]{16}"$/);
    expect(second.status).to.equal(206);
    expect(second.sent).to.equal(checkpoint.byteLength - kept);
    expect(got).to.deep.equal({ path: target, name: torchvisionName, cached: false });
    expect(digestOf(target)).to.equal(sha256);
    expect(readdirSync(dirname(target))).to.deep.equal([torchvisionName]); // no partial, validators or lock left
    expect(events[0].loaded).to.equal(kept);
    expect(events[events.length - 1].loaded).to.equal(checkpoint.byteLength);
    events.slice(1).forEach((e, i) => expect(e.loaded).to.be.at.least(events[i].loaded));

    // Once complete, the cached file is used without a request, as torch.hub does.
    const again = await downloadCheckpoint(url, { cacheDir: cache });
    expect(again.cached).to.equal(true);
    expect(server.seen(path)).to.have.length(2);
  });

  it('starts over cleanly when the server ignores the range (200)', async () => {
    server.ranges = false;
    const path = '/models/plain.pth';
    const url = new URL(path, server.url);
    server.cut(path, CUT);
    await downloadCheckpoint(url, { cacheDir: cache }).then(() => expect.fail('expected a DownloadError'), (e) => expect(e).to.be.instanceOf(DownloadError));
    const got = await downloadCheckpoint(url, { cacheDir: cache });
    const second = server.seen(path).at(-1)!;
    expect(second.range).to.match(/^bytes=\d+-$/); // asked for the rest...
    expect([second.status, second.sent]).to.deep.equal([200, checkpoint.byteLength]); // ...and got the whole file
    expect(statSync(got.path).size).to.equal(checkpoint.byteLength);
    expect(digestOf(got.path)).to.equal(sha256);
  });

  it('starts over when the file changed on the server (If-Range does not match)', async () => {
    const path = '/models/plain.pth';
    const url = new URL(path, server.url);
    server.cut(path, CUT);
    await downloadCheckpoint(url, { cacheDir: cache }).catch(() => undefined);
    const replaced = Uint8Array.from(checkpoint);
    replaced[checkpoint.byteLength - 1] ^= 0xff;
    server.files.set(path, replaced);
    try {
      const got = await downloadCheckpoint(url, { cacheDir: cache });
      expect(server.seen(path).at(-1)!.status).to.equal(200);
      expect(readFileSync(got.path).equals(Buffer.from(replaced))).to.equal(true);
    } finally {
      server.files.set(path, checkpoint);
    }
  });

  it("refuses a file whose sha256 does not start with its name's hash, keeping nothing", async () => {
    const url = new URL('/models/maskrcnn_resnet50_fpn_coco-00000000.pth', server.url);
    const err = await downloadCheckpoint(url, { cacheDir: cache }).then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(CheckpointError);
    expect(err!.message).to.contain(url.href).and.contain(`sha256 is ${sha256.slice(0, 12)}`).and.contain('starts with 00000000');
    expect(readdirSync(dirname(checkpointCachePath(url, cache)))).to.deep.equal([]);
  });

  it('names the URL on HTTP 404', async () => {
    const url = new URL('/models/missing.pth', server.url);
    const err = await downloadCheckpoint(url, { cacheDir: cache }).then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(DownloadError);
    expect(err!.message).to.equal(`${url.href}: cannot download the checkpoint: HTTP 404 Not Found`);
  });

  it('resdet convert <url>: a cut download fails, the next run resumes and converts, eps from the URL\'s file name', async () => {
    const path = `/models/${torchvisionName}`;
    const url = new URL(path, server.url);
    const out = join(cache, 'pkg');
    const convert = () => promisify(execFile)(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'convert', url.href, '--out', out], {
      env: { ...process.env, RESDET_CACHE: cache },
    });
    server.cut(path, CUT);
    const failed = await convert().then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failed?.code).to.equal(1);
    expect(failed?.stderr).to.match(/^resdet convert: http:\/\/127\.0\.0\.1:\d+\/models\/\S+: connection lost after \d+ of 10000821 bytes .*run the command again to resume\n$/m);
    expect(existsSync(out)).to.equal(false);
    const before = server.seen(path).length;
    const { stderr } = await convert();
    expect(server.seen(path)).to.have.length(before + 1);
    expect(server.seen(path).at(-1)).to.include({ status: 206 });
    expect(stderr).to.contain(`downloading ${url.href} (10.0 MB), resuming at `).and.contain(`${torchvisionName}: done, 10.0 MB`);
    expect(existsSync(checkpointCachePath(url, cache))).to.equal(true);
    const manifest = JSON.parse(readFileSync(join(out, 'resdet.json'), 'utf8')) as Manifest;
    expect(manifest.backbone.frozenBnEps).to.equal(0);
    expect(manifest.source).to.include({ checkpoint: torchvisionName, url: url.href });
  });
});

describe('progressReporter', () => {
  const p = (loaded: number): DownloadProgress => ({ file: 'f.pth', url: 'http://h/f.pth', loaded, total: 2e6, cached: false });

  it('draws one bar in place on a TTY, ending with a newline', () => {
    let out = '';
    let t = 0;
    const report = progressReporter({ isTTY: true, columns: 100, write: (s: string) => { out += s; } }, { now: () => t });
    for (const [time, loaded] of [[0, 0], [50, 5e5], [200, 1e6], [400, 2e6]]) {
      t = time;
      report(p(loaded));
    }
    expect(out.split('\r').filter(Boolean)).to.have.length(3); // the 50 ms update is skipped
    expect(out).to.match(/f\.pth \[#{12}\.{12}\]  50% 1\.0 MB\/2\.0 MB/).and.match(/100% 2\.0 MB\/2\.0 MB .*\n$/);
  });

  it('prints plain lines otherwise: start, every few seconds, done', () => {
    const lines: string[] = [];
    let t = 0;
    const report = progressReporter({ write: (s: string) => { lines.push(s); } }, { now: () => t });
    for (const [time, loaded] of [[0, 0], [1000, 5e5], [6000, 1e6], [7000, 2e6]]) {
      t = time;
      report(p(loaded));
    }
    expect(lines).to.deep.equal(['downloading http://h/f.pth (2.0 MB)\n', 'f.pth: 50% of 2.0 MB (0.2 MB/s)\n', 'f.pth: done, 2.0 MB in 7.0 s\n']);
  });
});
