/** Running `resdet annotate` / `resdet merge` as a user does, and reading what they wrote. */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/reference.js';

export const CLI = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `resdet <args>` to completion (synchronously; no terminal, so progress comes as plain lines). */
export function resdet(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd ?? repoRoot, encoding: 'utf8', timeout: options.timeoutMs ?? 300_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** `resdet <args>`, killed with SIGKILL after `killAfterMs` unless it ended first. */
export function resdetKilledAfter(args: readonly string[], killAfterMs: number): Promise<CliRun & { killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let killed = false;
    const timer = setTimeout(() => {
      killed = child.exitCode === null;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, killed: killed && signal === 'SIGKILL' });
    });
  });
}

export interface Instances {
  info: Record<string, unknown>;
  images: Array<{ id: number; file_name: string; width: number; height: number }>;
  annotations: Array<{ id: number; image_id: number; category_id: number; bbox: number[]; area: number; score: number; iscrowd: number; segmentation?: unknown }>;
  categories: Array<{ id: number; name: string }>;
}

export function readInstances(out: string): Instances {
  return JSON.parse(readFileSync(join(out, 'instances.json'), 'utf8')) as Instances;
}

export function readFailures(out: string): Array<{ id: number; file_name: string; code: string; error: string }> {
  return JSON.parse(readFileSync(join(out, 'failures.json'), 'utf8')) as Array<{ id: number; file_name: string; code: string; error: string }>;
}

/** The dataset without what legitimately differs between runs (info), for comparing two runs. */
export function comparable(out: string): { instances: Omit<Instances, 'info'>; failures: unknown } {
  const { info: _info, ...instances } = readInstances(out);
  return { instances, failures: readFailures(out).map(({ id, file_name, code }) => ({ id, file_name, code })) };
}
