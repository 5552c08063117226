/**
 * A graph that copies GPU-resident tensors to the CPU: one Identity per tensor, run in a session
 * whose outputs are CPU tensors. In Node a `gpu-buffer` tensor is an opaque handle (its
 * `getData()` aborts the process), so this is how the pyramid comes back when it is asked for.
 */
import { GraphBuilder, type OnnxModel } from '../onnx/index.js';

/**
 * Inputs `<name>` [N, C, H, W] float32 for each name; outputs `<name>_cpu`, the same tensors.
 */
export function buildDownload(names: readonly string[]): OnnxModel {
  const g = new GraphBuilder('download');
  for (const name of names) {
    const x = g.input(name, 'float32', ['N', `C${name}`, `H${name}`, `W${name}`]);
    g.output(g.identity(x), `${name}_cpu`, 'float32', ['N', `C${name}`, `H${name}`, `W${name}`]);
  }
  return g.toModel();
}

/** The dtypes of pasted masks ({@link buildPasteMasks}'s outputs). */
export type MaskDownloadType = 'float32' | 'uint8';

/**
 * Input `pastedMasks` [D, H, W] of `dtype` (on the GPU); output `pastedMasks_cpu`, the same tensor,
 * run in a session with CPU outputs.
 */
export function buildMaskDownload(dtype: MaskDownloadType): OnnxModel {
  const g = new GraphBuilder(`downloadMasks_${dtype}`);
  const x = g.input('pastedMasks', dtype, ['D', 'H', 'W']);
  g.output(g.identity(x), 'pastedMasks_cpu', dtype, ['D', 'H', 'W']);
  return g.toModel();
}
