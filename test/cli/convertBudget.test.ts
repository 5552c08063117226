import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/reference.js';
import { torchZip } from '../checkpoint/hostileWriters.js';

const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** `resdet convert --max-memory`: the checkpoint reader's budget, reachable from the command line. */
describe('resdet convert --max-memory', () => {
  const work = mkdtempSync(join(tmpdir(), 'resdet-budget-'));
  // 4 bytes of storage viewed with stride 0 as 75M floats: 300 MB when expanded.
  const file = join(work, 'expand300.pth');
  writeFileSync(file, torchZip([{ key: 'x', storageKey: '0', numel: 1, size: [75_000_000], stride: [0] }], { 0: new Uint8Array(4) }));
  const convert = (...args: string[]) => spawnSync(process.execPath, [main, 'convert', file, '--out', join(work, 'pkg'), ...args], { encoding: 'utf8' });

  it('refuses a tiny file that expands past the default budget, in one line naming the file, the tensor and the flag', () => {
    const run = convert();
    expect(run.status).to.equal(1);
    expect(run.stderr.trim().split('\n')).to.have.length(1);
    expect(run.stderr).to.match(/expand300\.pth: tensor 'x'.*needs 300000000 bytes.*over the memory budget.*--max-memory/);
  });

  it('with --max-memory the expansion is allowed, and the next check (not a detection checkpoint) speaks', () => {
    const run = convert('--max-memory', '400');
    expect(run.status).to.equal(1);
    expect(run.stderr).to.not.match(/memory budget/);
    expect(run.stderr).to.match(/expand300\.pth: /);
  });

  it('refuses a --max-memory that is not a positive number, as a usage error', () => {
    const run = convert('--max-memory', 'lots');
    expect(run.status).to.equal(2);
    expect(run.stderr).to.match(/--max-memory must be a number of MiB > 0, got 'lots'/);
  });
});
