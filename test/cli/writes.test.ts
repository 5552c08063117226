import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, utimesSync, watch, writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { isStaleTemp, tempPathFor, writeFileAtomic } from '../../src/cli/files.js';
import { repoRoot } from '../helpers/reference.js';

const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const resdet = (args: string[], cwd: string) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd });
const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const temps = (dir: string) => readdirSync(dir).filter((n) => n.includes('.resdet-tmp-'));

/** The pid of a process that has exited (so no process of ours has it now). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

/** Outputs are written whole, never through a link planted in the output folder, and leave no litter. */
describe('output files: atomic, unpredictable temporary names, no writes through links', () => {
  let work: string;
  let victim: string;
  const secret = 'the victim file, which no resdet run may change\n';
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'resdet-writes-'));
    victim = join(work, 'victim.txt');
    writeFileSync(victim, secret);
  });

  it('does not follow a link planted at the old predictable temporary name (<file>.tmp-<pid>)', () => {
    const out = join(work, 'out.json');
    symlinkSync(victim, `${out}.tmp-${process.pid}`);
    writeFileAtomic(out, '{"ok":true}\n');
    expect(readFileSync(victim, 'utf8')).to.equal(secret);
    expect(readFileSync(out, 'utf8')).to.equal('{"ok":true}\n');
  });

  it('names temporary files .<file>.resdet-tmp-<host>-<pid>-<96 random bits>, different every time', () => {
    const a = tempPathFor(join(work, 'photo.png'));
    const b = tempPathFor(join(work, 'photo.png'));
    expect(a).to.not.equal(b);
    expect(a).to.match(new RegExp(`/\\.photo\\.png\\.resdet-tmp-${host}-${process.pid}-[0-9a-f]{24}$`));
  });

  it('replaces a link at the output name itself, not the file it points to', () => {
    const out = join(work, 'out.json');
    symlinkSync(victim, out);
    writeFileAtomic(out, 'new');
    expect(readFileSync(victim, 'utf8')).to.equal(secret);
    expect(lstatSync(out).isFile()).to.equal(true);
    expect(readFileSync(out, 'utf8')).to.equal('new');
  });

  it('resdet detect writes nothing through links planted at every likely name in the output folder', () => {
    copyFileSync(join(repoRoot, 'samples', 'shapes-1.png'), join(work, 'photo.png'));
    const out = join(work, 'out');
    mkdirSync(out);
    // The old scheme's names for the next few hundred pids, and the outputs' own names.
    for (let pid = process.pid - 50; pid < process.pid + 400; pid++) {
      for (const f of ['photo.json', 'photo.png']) symlinkSync(victim, join(out, `${f}.tmp-${pid}`));
    }
    symlinkSync(victim, join(out, 'photo.json'));
    symlinkSync(victim, join(out, 'photo.png'));
    const run = resdet(['detect', 'photo.png', '--out', 'out'], work);
    expect(run.status, run.stderr).to.equal(0);
    expect(readFileSync(victim, 'utf8')).to.equal(secret);
    expect(lstatSync(join(out, 'photo.json')).isFile()).to.equal(true);
    expect(JSON.parse(readFileSync(join(out, 'photo.json'), 'utf8')).file).to.equal('photo.png');
    expect(temps(out)).to.deep.equal([]);
  });

  it('resdet dataset replaces links planted at its image and annotation names instead of writing through them', () => {
    const out = join(work, 'data');
    mkdirSync(join(out, 'val'), { recursive: true });
    mkdirSync(join(out, 'annotations'));
    symlinkSync(victim, join(out, 'val', '000001.png'));
    symlinkSync(victim, join(out, 'annotations', 'instances_val.json'));
    const run = resdet(['dataset', '--out', 'data', '--train', '0', '--val', '1', '--size', '32x32', '--force'], work);
    expect(run.status, run.stderr).to.equal(0);
    expect(readFileSync(victim, 'utf8')).to.equal(secret);
    expect(lstatSync(join(out, 'val', '000001.png')).isFile()).to.equal(true);
    expect(JSON.parse(readFileSync(join(out, 'annotations', 'instances_val.json'), 'utf8')).images).to.have.length(1);
  });

  it("removes a killed run's temporary files (owner gone, or a day old), keeping live writers' and other files", () => {
    copyFileSync(join(repoRoot, 'samples', 'shapes-1.png'), join(work, 'photo.png'));
    const out = join(work, 'out');
    mkdirSync(out);
    const random = () => createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24);
    const dead = join(out, `.photo.png.resdet-tmp-${host}-${deadPid()}-${random()}`);
    const live = join(out, `.photo.png.resdet-tmp-${host}-${process.pid}-${random()}`);
    const old = join(out, `.other.png.resdet-tmp-${host}-${process.pid}-${random()}`);
    const otherHost = join(out, `.photo.png.resdet-tmp-00000000-${deadPid()}-${random()}`);
    const notOurs = join(out, '.notes.resdet-tmp-mine');
    for (const f of [dead, live, old, otherHost, notOurs]) writeFileSync(f, 'partial');
    const dayAgo = (Date.now() - 25 * 3600 * 1000) / 1000;
    utimesSync(old, dayAgo, dayAgo);
    const run = resdet(['detect', 'photo.png', '--out', 'out'], work);
    expect(run.status, run.stderr).to.equal(0);
    expect([dead, live, old, otherHost, notOurs].map(existsSync)).to.deep.equal([false, true, false, true, true]);
    expect(isStaleTemp(`.x.resdet-tmp-${host}-${process.pid}-${random()}`, Date.now())).to.equal(false);
  });

  it('leaves no temporary file and whole outputs after a run killed (SIGKILL) in the middle of a large preview write', async function () {
    this.timeout(180_000);
    const width = 4000, height = 4000; // noise: a ~48 MB preview PNG, written long enough to be caught
    await sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 70 } } })
      .png({ compressionLevel: 1 }).toFile(join(work, 'big.png'));
    const out = join(work, 'out');
    mkdirSync(out);
    let litter: string[] = [];
    for (let attempt = 0; attempt < 4 && litter.length === 0; attempt++) {
      const child = spawn(process.execPath, [main, 'detect', 'big.png', '--out', 'out'], { cwd: work, stdio: 'ignore' });
      const watcher = watch(out, (_event, name) => {
        if (name?.startsWith('.big.png.resdet-tmp-')) child.kill('SIGKILL');
      });
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, s) => resolve(s)));
      watcher.close();
      litter = temps(out);
      if (signal !== 'SIGKILL') expect(litter).to.deep.equal([]); // it finished first: try again
    }
    expect(litter, 'the kill never landed during the preview write').to.have.length(1);
    const run = resdet(['detect', 'big.png', '--out', 'out'], work);
    expect(run.status, run.stderr).to.equal(0);
    expect(temps(out)).to.deep.equal([]);
    expect(readdirSync(out).sort()).to.deep.equal(['big.json', 'big.png']);
    expect(JSON.parse(readFileSync(join(out, 'big.json'), 'utf8'))).to.include({ width, height });
    const { info } = await sharp(join(out, 'big.png')).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).to.deep.equal([width, height]);
  });
});
