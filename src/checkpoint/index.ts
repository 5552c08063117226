/**
 * Reading torch checkpoints safely, without Python: `loadCheckpoint` / `loadCheckpointBuffer`
 * return the state dict of a torch.save file (zip format of torch >= 1.6, or the legacy format of
 * torchvision's published weights) or of a .safetensors file. Pickles are read by an unpickler
 * that executes nothing and names only allow-listed globals; every failure is a CheckpointError.
 * Memory stays bounded by what the file really holds: see `CheckpointLoadOptions`.
 *
 * Exports: loadCheckpoint, loadCheckpointBuffer, detectCheckpointFormat, CheckpointFormat,
 * CheckpointLoadOptions, CheckpointError, nestedStateDictKeys.
 */
import type { StateDict } from '../../onnx/tensor.js';
import { type CheckpointLoadOptions, MemoryBudget } from './budget.js';
import { CheckpointError } from './errors.js';
import { readSafetensors, looksLikeSafetensors } from './safetensors.js';
import { type ByteSource, bufferSource, openFileSource } from './source.js';
import { readTorchLegacy, readTorchZip } from './torchLoad.js';
import { looksLikeZip } from './zip.js';

export type { CheckpointLoadOptions } from './budget.js';
export { CheckpointError } from './errors.js';
export { nestedStateDictKeys } from './stateDict.js';

/** The file formats `loadCheckpoint` reads. */
export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

/** Well-known signatures of files that are often mistaken for checkpoints. */
const otherFormats: [string, number[]][] = [
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a JPEG image', [0xff, 0xd8, 0xff]],
  ['gzip-compressed (decompress it first)', [0x1f, 0x8b]],
  ['an ONNX model or other protobuf, not a torch checkpoint', [0x08]],
];

/**
 * Tells the format from the first bytes (at least 512 when the file has them) and the file size.
 * Throws a CheckpointError naming what the file looks like when it is none of ours.
 */
export function detectCheckpointFormat(head: Uint8Array, size: number, file: string): CheckpointFormat {
  if (looksLikeZip(head)) return 'torch-zip';
  if (head[0] === 0x80) return 'torch-legacy'; // a pickle's PROTO opcode
  if (looksLikeSafetensors(head, size)) return 'safetensors';
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') {
    throw new CheckpointError(file, 'is a tar archive: torch < 0.4 checkpoints (tar format) are not supported; load it with torch and re-save it with torch.save');
  }
  for (const [what, sig] of otherFormats) {
    if (sig.every((b, i) => head[i] === b)) throw new CheckpointError(file, `is ${what}, not a torch checkpoint (.pth) or .safetensors file`);
  }
  if (size === 0) throw new CheckpointError(file, 'is empty');
  const shown = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CheckpointError(file, `is not a torch checkpoint (zip or legacy .pth) nor a .safetensors file (it starts with ${shown})`);
}

async function load(src: ByteSource, options: CheckpointLoadOptions): Promise<StateDict> {
  try {
    const budget = new MemoryBudget(src.name, src.size, options);
    const head = await src.read(0, Math.min(src.size, 512));
    switch (detectCheckpointFormat(head, src.size, src.name)) {
      case 'torch-zip': return await readTorchZip(src, budget);
      case 'torch-legacy': return await readTorchLegacy(src, budget);
      case 'safetensors': return await readSafetensors(src, budget);
    }
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    // Every known cause is turned into a precise CheckpointError where it happens; this is the
    // guarantee for unknown ones (the file is still named, the original error is the cause).
    const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new CheckpointError(src.name, `unreadable checkpoint (internal: ${detail.slice(0, 200)})`, { cause: e });
  }
}

/**
 * Reads the state dict of a checkpoint file: a torch.save `.pth`/`.pt` (zip or legacy format) or
 * a `.safetensors` file, told apart by content, not by extension.
 *
 * The state dict may be the saved object itself or nested under 'state_dict', 'model_state_dict'
 * or 'model' (see `nestedStateDictKeys`); a 'module.' prefix on every key (DataParallel) is
 * removed; entries that are not tensors are skipped. float16/bfloat16/float64 tensors become
 * float32, integer and bool tensors int64. Storages are read one by one at their offsets, so
 * memory stays near the size of the weights; float32 tensors are views of those buffers, and
 * tensors that shared a storage in torch may share memory here: treat them as read-only.
 *
 * Hostile files cannot cost more than the file holds: each storage byte is read once (zip records
 * and safetensors ranges may not overlap), and whatever must be allocated beyond it (expanded
 * stride-0 or overlapping views, dtype conversions, DEFLATE output, unpickled objects) is charged
 * to a budget, by default max(256 MiB, 4 x the file size) (`options.maxMaterializedBytes`).
 *
 * @param path the checkpoint file
 * @param options the memory budget
 * @throws CheckpointError naming the file: not a checkpoint, truncated or corrupt, a pickle
 *   naming a global outside the allow-list (nothing in the file is ever executed), no tensors,
 *   over the memory budget (naming the tensor or entry and the size)
 */
export async function loadCheckpoint(path: string, options: CheckpointLoadOptions = {}): Promise<StateDict> {
  const src = await openFileSource(path);
  try {
    return await load(src, options);
  } finally {
    await src.close();
  }
}

/**
 * `loadCheckpoint` for bytes already in memory. float32 tensors at 4-byte aligned offsets are
 * views of `bytes` (torch's zip format aligns them; the legacy format does not, so those copy).
 * @param bytes the checkpoint's contents
 * @param name what to call it in errors
 * @param options the memory budget, as for `loadCheckpoint` (the buffer's size sets the default)
 */
export async function loadCheckpointBuffer(bytes: Uint8Array, name = '<checkpoint buffer>', options: CheckpointLoadOptions = {}): Promise<StateDict> {
  return load(bufferSource(name, bytes), options);
}
