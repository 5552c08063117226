/**
 * `resdet annotate --jobs N`: images annotated on N inference workers, each with its own copy of
 * the model, give exactly the dataset of one job (same ONNX Runtime threads per session), failures
 * and previews included, in the same order; a worker that cannot load its model stops the run
 * with a clear error.
 */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annotate } from '../../src/annotate/run.js';
import { loadModel } from '../../src/index.js';
import { comparable, readFailures, resdet } from './cli.js';
import { makeAnnotateFixture, type Fixture } from './fixtureFolder.js';

function files(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => [join(e.parentPath, e.name).slice(dir.length), readFileSync(join(e.parentPath, e.name))]));
}

describe('resdet annotate --jobs: several copies of the model, one dataset', function () {
  this.timeout(600_000);
  let root: string;
  let fixture: Fixture;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'resdet-annotate-jobs-'));
    fixture = await makeAnnotateFixture(join(root, 'images'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('3 jobs write the dataset, failures and previews of 1 job, byte for byte', () => {
    const runs = ['1', '3'].map((jobs) => {
      const out = join(root, `out-${jobs}`);
      const run = resdet(['annotate', fixture.dir, '--out', out, '--jobs', jobs, '--threads', '1', '--previews', '--format', 'yolo']);
      expect(run.code, run.stderr).to.equal(1); // the fixture's bad files fail
      return { out, run };
    });
    const [one, three] = runs;
    expect(comparable(three.out)).to.deep.equal(comparable(one.out));
    // Failures name the file and the problem whichever thread met them.
    expect(readFailures(three.out)).to.deep.equal(readFailures(one.out));
    for (const f of readFailures(three.out)) expect(f.error, f.file_name).to.include(f.file_name.split('/').pop()!);
    const previews = [files(join(one.out, 'previews')), files(join(three.out, 'previews'))];
    expect(previews[1].size).to.equal(fixture.files.filter((f) => f.kind === 'good').length);
    expect([...previews[1].keys()].sort()).to.deep.equal([...previews[0].keys()].sort());
    for (const [name, png] of previews[0]) expect(previews[1].get(name)!.equals(png), name).to.equal(true);
    expect(files(join(three.out, 'yolo'))).to.deep.equal(files(join(one.out, 'yolo')));
  });

  it('refuses --jobs that is not a whole number >= 1, with the usage', () => {
    for (const bad of ['0', '-1', '1.5', 'two']) {
      const run = resdet(['annotate', fixture.dir, '--out', join(root, 'out-bad'), '--jobs', bad]);
      expect(run.code, bad).to.equal(2);
      expect(run.stderr, bad).to.match(/--jobs/);
      expect(run.stderr).to.not.match(/\n\s+at /);
    }
  });

  it('stops with ANNOTATE_WORKER when a job cannot load its model, naming it', async () => {
    const detector = await loadModel('shapes', { threads: 1 });
    try {
      const common = {
        inputs: [fixture.dir], detector, modelName: 'shapes', scoreThreshold: 0.5, maskThreshold: 0.5, minArea: 0,
        polygons: false, tolerance: 1, formats: [], previews: false, restart: true, log: () => {}, progressStream: { write: () => true },
      } as const;
      const missing = join(root, 'no-such-package');
      let error: { code?: string; message?: string } = {};
      await annotate({ ...common, out: join(root, 'out-missing'), jobs: 2, replicaModel: { model: missing, provider: 'cpu', threads: 1 } }).catch((e) => (error = e));
      expect(error.code).to.equal('ANNOTATE_WORKER');
      expect(error.message).to.include('could not load the model').and.include(missing);
      error = {};
      await annotate({ ...common, out: join(root, 'out-nospec'), jobs: 2 }).catch((e) => (error = e));
      expect(error.code).to.equal('ANNOTATE_WORKER');
      expect(error.message).to.include('replicaModel');
    } finally {
      await detector.release();
    }
  });
});
