/**
 * Past one machine: three shards run by GNU parallel (as the README shows), merged by
 * `resdet merge`, equal one unsharded run; merge refuses shards of different options.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, comparable, readInstances, resdet } from './cli.js';
import { makeAnnotateFixture, type Fixture } from './fixtureFolder.js';

describe('resdet annotate --shard K/N under GNU parallel, joined by resdet merge', function () {
  this.timeout(900_000);
  let root: string;
  let fixture: Fixture;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'resdet-shards-'));
    fixture = await makeAnnotateFixture(join(root, 'images'), { good: 20 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('3 shards merged equal one unsharded run', () => {
    const which = spawnSync('parallel', ['--version'], { encoding: 'utf8' });
    if (which.error || which.status !== 0) throw new Error("GNU parallel is needed: 'apt-get install parallel' (npm run setup:test installs it)");
    const whole = join(root, 'whole');
    const one = resdet(['annotate', fixture.dir, '--out', whole, '--polygons']);
    expect(one.code, one.stderr).to.equal(1);
    // The README's recipe: one job per shard; each exits 1 when its share has a bad file.
    const shards = spawnSync('parallel', ['--jobs', '3', '--halt', 'never', process.execPath, CLI, 'annotate', fixture.dir,
      '--out', join(root, 'shard-{}'), '--polygons', '--threads', '1', '--shard', '{}/3', ':::', '1', '2', '3'], { encoding: 'utf8', timeout: 600_000 });
    expect(shards.stderr).not.to.match(/internal error/);
    for (const k of [1, 2, 3]) {
      const images = readInstances(join(root, `shard-${k}`)).images;
      expect(images.length, `shard ${k} has a share`).to.be.greaterThan(0);
    }
    const merged = join(root, 'merged');
    const m = resdet(['merge', join(root, 'shard-1'), join(root, 'shard-2'), join(root, 'shard-3'), '--out', merged, '--polygons']);
    expect(m.code, m.stderr).to.equal(0);
    expect(comparable(merged)).to.deep.equal(comparable(whole));
  });

  it('refuses to merge shards made with other options, naming them', () => {
    const other = join(root, 'other-2');
    const r = resdet(['annotate', fixture.dir, '--out', other, '--polygons', '--score', '0.8', '--shard', '2/3']);
    expect(r.stderr).not.to.match(/internal error/);
    const m = resdet(['merge', join(root, 'shard-1'), other, join(root, 'shard-3'), '--out', join(root, 'bad-merge')]);
    expect(m.code).to.equal(1);
    expect(m.stderr).to.match(/shard-1|other-2/);
  });
});
