/** File writing for batch commands: each output appears whole or not at all. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** Writes to a temporary sibling, then renames: a crash never leaves a half-written file. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
