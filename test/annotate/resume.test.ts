/**
 * kill -9 at random moments, then the same command again, until a run completes: the final
 * dataset equals an uninterrupted run's (every image exactly once, the same ids and objects), and
 * the journal never loses a finished image. Also Ctrl-C: the image in flight finishes, a valid
 * dataset is written, exit code 130, and the next run resumes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/dataset/index.js';
import { CLI, comparable, readInstances, resdet, resdetKilledAfter } from './cli.js';
import { makeAnnotateFixture, type Fixture } from './fixtureFolder.js';
import { repoRoot } from '../helpers/reference.js';

/** Records in a journal file (lines after the header), counting a torn last line too. */
function journalLines(out: string): number {
  try {
    return readFileSync(join(out, 'annotate.journal'), 'utf8').split('\n').filter((l) => l.length > 0).length - 1;
  } catch {
    return 0;
  }
}

describe('resdet annotate: resumes after kill -9 and Ctrl-C without losing or repeating work', function () {
  this.timeout(900_000);
  let root: string;
  let fixture: Fixture;
  let reference: ReturnType<typeof comparable>;
  /** The uninterrupted run's wall time (ms), start-up included. */
  let fullRunMs: number;
  const args = (out: string) => ['annotate', fixture.dir, '--out', out, '--format', 'yolo', '--polygons', '--previews', '--checkpoint-seconds', '0.2'];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'resdet-resume-'));
    fixture = await makeAnnotateFixture(join(root, 'images'), { good: 24 });
    const out = join(root, 'uninterrupted');
    const t0 = performance.now();
    const run = resdet(args(out));
    fullRunMs = performance.now() - t0;
    expect(run.code, run.stderr).to.equal(1); // the bad files fail; everything else is annotated
    reference = comparable(out);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('kill -9 at random moments, then a resume, gives the uninterrupted dataset (at least 5 kills, over as many output folders as it takes)', async () => {
    const rng = new Prng(2024);
    const total = fixture.good.length + fixture.bad.length;
    let kills = 0;
    // One kill near a run's end can leave nothing to do (the whole fixture takes under 2 s here):
    // such a folder is finished and checked, and the kills go on in a fresh one.
    for (let folder = 0; folder < 6 && kills < 5; folder++) {
      const out = join(root, `killed-${folder}`);
      let progressSeen = 0;
      for (let attempt = 0; attempt < 10; attempt++) {
        const left = 1 - journalLines(out) / total;
        if (left <= 0) break;
        // Between start-up and the time the images left would take (from the uninterrupted run's
        // time), so kills land in start-up, mid-image, mid-journal-append and mid-checkpoint alike.
        const at = 300 + rng.next() * Math.max(300, fullRunMs * left);
        const r = await resdetKilledAfter(args(out), at);
        if (r.killed) kills++;
        else expect(r.code, r.stderr).to.equal(1);
        const lines = journalLines(out);
        expect(lines, 'the journal never shrinks').to.be.at.least(progressSeen - 1); // a torn last line is dropped
        progressSeen = Math.max(progressSeen, lines);
        expect(r.stderr).not.to.match(/internal error/);
      }
      const last = resdet(args(out));
      expect(last.code, last.stderr).to.equal(1);
      expect(last.stdout).to.match(new RegExp(`annotate: ${total} images: `));
      expect(comparable(out), `the dataset of ${out}`).to.deep.equal(reference);
      const images = readInstances(out).images;
      expect(new Set(images.map((i) => i.file_name)).size).to.equal(images.length);
    }
    expect(kills, 'runs killed mid-way').to.be.at.least(5);
  });

  it('Ctrl-C finishes the image in flight, writes a valid dataset, exits 130, and resumes', async () => {
    const out = join(root, 'interrupted');
    const child = spawn(process.execPath, [CLI, ...args(out)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Once a few images are journaled, one Ctrl-C.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (journalLines(out) >= 5) {
          clearInterval(poll);
          child.kill('SIGINT');
          resolve();
        }
      }, 20);
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).to.equal(130);
    expect(stderr).to.match(/finishing the image in flight/);
    const partial = readInstances(out);
    const done = journalLines(out);
    expect(done).to.be.lessThan(fixture.good.length + fixture.bad.length);
    expect(partial.images.length).to.be.at.most(done);
    const resumed = resdet(args(out));
    expect(resumed.code, resumed.stderr).to.equal(1);
    expect(resumed.stderr).to.match(new RegExp(`resuming .*: ${done} of \\d+ images already done`));
    expect(comparable(out)).to.deep.equal(reference);
  });
});
