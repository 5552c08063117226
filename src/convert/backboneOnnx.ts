/**
 * `resdet convert --backbone-onnx <file>`: a user's own backbone, e.g. `torch.onnx.export(model.backbone,
 * ...)` of a torchvision detector. Its pyramid declaration (Detectron2's `output_shape()`) is read
 * from the file: level names from the output names, strides and channels from the output shapes of
 * one run on a probe image; or the names (and, to be checked, strides and channels) from `--levels`.
 *
 * Hp, Wp: the probe's size; Hi, Wi: level i's grid.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type PyramidLevel, onnxBackbone } from '../../backbones/index.js';
import { type DeclaredValue, readModelInterface } from '../../onnx/inspect.js';
import { ModelPackageError } from '../modelPackage/index.js';

/** A level as `--levels` gives it: the name, and optionally the stride and channels to check. */
export interface LevelSpec {
  name: string;
  stride?: number;
  channels?: number;
}

/** A user's backbone, its outputs renamed to the levels. */
export interface UserBackbone {
  /** The ONNX model, outputs named as the levels. */
  onnx: Uint8Array;
  levels: PyramidLevel[];
  /** The file's name, recorded in resdet.json. */
  fileName: string;
}

/** The probe image, [1, 3, PROBE_H, PROBE_W]: multiples of 128, and not square so that H and W cannot be swapped. */
const PROBE_H = 512;
const PROBE_W = 384;

/**
 * Parses `--levels`: comma-separated `name[:stride[:channels]]`, one per backbone output in order,
 * e.g. `0,1,pool` or `0:32:256,1:32:256,pool:64:256`.
 * @throws ModelPackageError naming the item at fault
 */
export function parseLevels(text: string, where: string): LevelSpec[] {
  return text.split(',').map((item, i) => {
    const [name, stride, channels, ...rest] = item.trim().split(':');
    const number = (v: string | undefined, what: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new ModelPackageError(where, `--levels item ${i + 1} ('${item}'): ${what} must be a positive integer, got '${v}'`);
      return n;
    };
    if (!name || rest.length > 0) throw new ModelPackageError(where, `--levels item ${i + 1} ('${item}') must be name[:stride[:channels]]`);
    return { name, stride: number(stride, 'the stride'), channels: number(channels, 'the channel count') };
  });
}

/**
 * Level names read from output names, as torchvision names its FPN levels: '0', '1', ... in order,
 * optionally 'pool' last. torch.onnx.export refuses numeric names, so 'feat0', 'feat1' are read as
 * '0', '1'. Undefined when the outputs are not so named (e.g. the exporter's own '523').
 */
export function levelNamesOf(outputs: readonly string[]): string[] | undefined {
  const names = outputs.map((n) => /^feat(\d+)$/.exec(n)?.[1] ?? n);
  const ok = names.every((n, i) => n === String(i) || (n === 'pool' && i > 0 && i === names.length - 1));
  return ok && names.length > 0 ? names : undefined;
}

/**
 * Runs the backbone once on a zero image and reads each output's stride (probe size / grid size,
 * equal on both axes) and channels.
 * @returns per output (in the model's order) its stride and channels
 */
async function probe(model: Uint8Array, input: DeclaredValue, outputs: readonly string[], file: string): Promise<Array<{ stride: number; channels: number }>> {
  // Loaded here, not at the top: only this conversion path runs a network.
  const ort = await import('onnxruntime-node');
  const inputShape = input.shape;
  const h = typeof inputShape?.[2] === 'number' ? inputShape[2] : PROBE_H;
  const w = typeof inputShape?.[3] === 'number' ? inputShape[3] : PROBE_W;
  let session;
  try {
    session = await ort.InferenceSession.create(model);
  } catch (e) {
    throw new ModelPackageError(file, `onnxruntime cannot load it: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  try {
    let out;
    try {
      out = await session.run({ [input.name]: new ort.Tensor('float32', new Float32Array(3 * h * w), [1, 3, h, w]) });
    } catch (e) {
      throw new ModelPackageError(file, `did not run on a probe image [1, 3, ${h}, ${w}]: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    return outputs.map((name) => {
      const dims = out[name].dims;
      if (dims.length !== 4 || dims[0] !== 1) throw new ModelPackageError(file, `output '${name}' is [${dims.join(', ')}] on a probe image [1, 3, ${h}, ${w}]; a pyramid level is [N, C, Hi, Wi]`);
      const strideH = h / dims[2];
      const strideW = w / dims[3];
      if (strideH !== strideW || !Number.isInteger(strideH) || (strideH & (strideH - 1)) !== 0) {
        throw new ModelPackageError(file, `output '${name}' is ${dims[2]} x ${dims[3]} on a ${h} x ${w} probe image: no power-of-two stride (${strideH} x ${strideW})`);
      }
      return { stride: strideH, channels: dims[1] };
    });
  } finally {
    await session.release();
  }
}

/**
 * Reads a user's backbone: its level names (from `levels`, else its output names), strides and
 * channels (probed, and checked against `levels` where it gives them), and wraps it as the
 * package's backbone (outputs renamed to the levels; see `onnxBackbone`).
 * @throws ModelPackageError naming the file and the output or level at fault
 */
export async function readUserBackbone(path: string, levels?: readonly LevelSpec[]): Promise<UserBackbone> {
  let model: Uint8Array;
  try {
    model = readFileSync(path);
  } catch (e) {
    throw new ModelPackageError(path, `cannot read the backbone (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  let info;
  try {
    info = readModelInterface(model);
  } catch (e) {
    throw new ModelPackageError(path, `is not a readable ONNX model (${(e as Error).message})`, { cause: e });
  }
  const inputs = info.inputs.filter((v) => !info.initializerNames.has(v.name));
  if (inputs.length !== 1) throw new ModelPackageError(path, `must take one input, the images [N, 3, H, W]; takes ${inputs.map((v) => `'${v.name}'`).join(', ') || 'none'}`);
  const outputs = info.outputs.map((o) => o.name);
  const listed = outputs.map((n) => `'${n}'`).join(', ');
  let names: string[];
  if (levels) {
    if (levels.length !== outputs.length) throw new ModelPackageError(path, `--levels names ${levels.length} levels, the backbone has ${outputs.length} outputs (${listed}): give one per output, in order`);
    names = levels.map((l) => l.name);
  } else {
    const read = levelNamesOf(outputs);
    if (!read) {
      throw new ModelPackageError(path, `its outputs (${listed}) are not named as pyramid levels: name them as torchvision does ('0', '1', ..., 'pool'; torch.onnx.export takes output_names=['feat0', 'feat1', 'pool']) or pass --levels with one name per output, e.g. --levels ${outputs.map((_, i) => (i === outputs.length - 1 && i > 0 ? 'pool' : String(i))).join(',')}`);
    }
    names = read;
  }
  // A level name the graph already uses for another value would be produced twice once renamed.
  const taken = new Set([...info.initializerNames, ...info.nodes.flatMap((n) => n.outputs), ...info.inputs.map((v) => v.name)]);
  names.forEach((name, i) => {
    if (name !== outputs[i] && taken.has(name)) throw new ModelPackageError(path, `cannot name output '${outputs[i]}' level '${name}': the graph already has a value '${name}'`);
  });
  const probed = await probe(model, inputs[0], outputs, path);
  const declared: PyramidLevel[] = names.map((name, i) => {
    const spec = levels?.[i];
    const { stride, channels } = probed[i];
    if (spec?.stride !== undefined && spec.stride !== stride) throw new ModelPackageError(path, `--levels gives level '${name}' stride ${spec.stride}, output '${outputs[i]}' has stride ${stride}`);
    if (spec?.channels !== undefined && spec.channels !== channels) throw new ModelPackageError(path, `--levels gives level '${name}' ${spec.channels} channels, output '${outputs[i]}' has ${channels}`);
    return { name, stride, channels };
  });
  const outputNames = Object.fromEntries(names.map((name, i) => [name, outputs[i]]));
  try {
    const backbone = onnxBackbone(model, declared, { inputName: inputs[0].name, outputNames });
    return { onnx: backbone.onnx, levels: declared, fileName: basename(path) };
  } catch (e) {
    throw new ModelPackageError(path, (e as Error).message, { cause: e });
  }
}
