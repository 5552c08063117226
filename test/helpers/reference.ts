/**
 * Runs a torchvision reference script (test/reference/<name>.py) once and caches its archive.
 *
 * The scripts are deterministic (seeded torch RNG, one thread), so their output is cached under
 * .cache/reference/<name>-<hash of the script and its shared helpers>; editing either invalidates it.
 * A missing torchvision fails with a message saying what to install — never a silent skip.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Archive, readArchive } from './tensorArchive.js';

/** Repository root, found from this compiled file (dist/test/helpers) or the source. */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const referenceDir = join(repoRoot, 'test', 'reference');

export function pythonExecutable(): string {
  return process.env.RESDET_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

function scriptHash(name: string): string {
  const h = createHash('sha256');
  for (const f of [`${name}.py`, 'tensor_archive.py', 'scenes.py']) h.update(readFileSync(join(referenceDir, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * Returns the archive written by test/reference/<name>.py, running it when not cached.
 * @param name script name without .py
 * @param args extra command-line arguments, part of the cache key
 * @param inputFiles files the script reads (e.g. a checkpoint), whose contents are part of the key
 */
export function torchReference(name: string, args: string[] = [], inputFiles: string[] = []): Archive {
  const hash = createHash('sha256').update(scriptHash(name)).update(JSON.stringify(args));
  for (const f of inputFiles) hash.update(readFileSync(f));
  const key = hash.digest('hex').slice(0, 16);
  const folder = join(repoRoot, '.cache', 'reference', `${name}-${key}`);
  if (!existsSync(join(folder, 'manifest.json'))) {
    const tmp = `${folder}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const run = spawnSync(pythonExecutable(), [join(referenceDir, `${name}.py`), tmp, ...args], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONPATH: referenceDir, OMP_NUM_THREADS: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.error) {
      throw new Error(`cannot run ${pythonExecutable()} for the torchvision reference (${run.error.message}); install python3-torchvision (see README, "Tests")`);
    }
    if (run.status !== 0) {
      throw new Error(`torchvision reference ${name}.py failed (exit ${run.status}):\n${run.stderr}`);
    }
    rmSync(folder, { recursive: true, force: true });
    renameSync(tmp, folder);
  }
  return readArchive(folder);
}
