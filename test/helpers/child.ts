/**
 * Runs JavaScript in a child Node process with a time limit and reports its peak memory: how the
 * hostile-input tests prove that a small file never costs gigabytes and that nothing hangs.
 * The child's peak comes from its own address space at exit (VmHWM in /proc/self/status, printed on
 * a marker line), so it counts ArrayBuffers and native memory, not just the V8 heap. (Not
 * getrusage's maxRSS: Linux carries the parent's peak into a forked child across exec, so a child
 * of a 1 GB test runner would report 1 GB.) Elsewhere it falls back to getrusage.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './reference.js';

export interface ChildResult {
  /** Exit code; null when killed (then `timedOut` says whether the time limit did it). */
  status: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the child in MiB (NaN when it died before reporting). */
  maxRssMiB: number;
  ms: number;
}

const MARKER = '__resdet_child_max_rss_kib__';

/**
 * Runs an ES module body in a child process. `code` may use top-level await and import resdet's
 * compiled modules by absolute path (e.g. `${repoRoot}/dist/src/index.js`); what it prints is in
 * `stdout`. Errors that escape it end the child with status 1 and the stack in `stderr`.
 * @param timeoutMs killed (SIGKILL) past this
 */
export function runInChild(code: string, timeoutMs = 60_000, env: Record<string, string> = {}): ChildResult {
  const dir = mkdtempSync(join(tmpdir(), 'resdet-child-'));
  const file = join(dir, 'child.mjs');
  const report = `import { readFileSync as __resdetRead } from 'node:fs';
process.on('exit', () => {
  let kib = process.resourceUsage().maxRSS;
  try { kib = Number(/VmHWM:\\s*(\\d+) kB/.exec(__resdetRead('/proc/self/status', 'utf8'))[1]); } catch {}
  process.stdout.write('\\n${MARKER} ' + kib + '\\n');
});
`;
  writeFileSync(file, `${report}${code}\n`);
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [file], {
    encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', cwd: repoRoot, maxBuffer: 1 << 26,
    env: { ...process.env, ...env },
  });
  const ms = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  const match = new RegExp(`${MARKER} (\\d+)`).exec(run.stdout ?? '');
  return {
    status: run.status,
    timedOut: run.error !== undefined && /ETIMEDOUT/.test(String((run.error as NodeJS.ErrnoException).code ?? run.error)),
    stdout: (run.stdout ?? '').replace(new RegExp(`\\n?${MARKER} \\d+\\n?`), ''),
    stderr: run.stderr ?? '',
    maxRssMiB: match ? Number(match[1]) / 1024 : NaN,
    ms,
  };
}
