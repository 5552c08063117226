/**
 * The RPN head network (torchvision RPNHead) as an ONNX graph: a shared conv3x3 + ReLU stack, then
 * 1x1 convs for objectness (A per location) and box deltas (4A), applied to every pyramid level.
 * The graph also does torchvision's `concat_box_prediction_layers` reshapes, so its outputs are in
 * anchor order (level, then y, x, then anchor).
 *
 * N: images, A: anchors per location, Hi, Wi: level i's size, R = sum_i Hi*Wi*A.
 */
import {
  GraphBuilder, type OnnxNetwork, type StateDict, type Value, onnxNetwork,
} from '../onnx/index.js';
import { StateDictError, requireWeight } from '../backbones/stateDictKeys.js';

/** What the RPN head graph needs to know about the pyramid it reads. */
export interface RpnHeadSpec {
  /** Pyramid level names, in anchor order (e.g. '0', '1', '2', '3', 'pool'). */
  levelNames: string[];
}

/** The head's ONNX network (`onnx` serialized on first read, `model` to stream to a file) and its sizes. */
export interface RpnHeadNetwork extends OnnxNetwork {
  anchorsPerLocation: number;
  channels: number;
  /** Number of conv3x3 layers before the predictors (1 for torchvision's RPNHead default). */
  convDepth: number;
}

/** Conv weights of the shared stack: new names (`conv.{i}.0`) or the single pre-0.13 `conv`. */
function convStack(sd: StateDict, prefix: string): Array<{ weight: string; bias: string }> {
  const layers: Array<{ weight: string; bias: string }> = [];
  for (let i = 0; sd.has(`${prefix}conv.${i}.0.weight`); i++) {
    layers.push({ weight: `${prefix}conv.${i}.0.weight`, bias: `${prefix}conv.${i}.0.bias` });
  }
  if (layers.length === 0 && sd.has(`${prefix}conv.weight`)) layers.push({ weight: `${prefix}conv.weight`, bias: `${prefix}conv.bias` });
  if (layers.length === 0) throw new StateDictError(`${prefix}conv.0.0.weight`, `state dict has no '${prefix}conv.0.0.weight' or '${prefix}conv.weight' (RPN head)`);
  return layers;
}

/**
 * Builds the RPN head from a detection model's state dict (`rpn.head.*`).
 * Inputs: one [N, C, Hi, Wi] per level, named as the levels. Outputs: `objectness` [N, R] (logits)
 * and `deltas` [N, R, 4].
 */
export function buildRpnHead(sd: StateDict, spec: RpnHeadSpec, prefix = 'rpn.head.'): RpnHeadNetwork {
  const layers = convStack(sd, prefix);
  const first = requireWeight(sd, [layers[0].weight], [-1, -1, 3, 3]);
  const channels = first.shape[0];
  const cls = requireWeight(sd, [`${prefix}cls_logits.weight`], [-1, channels, 1, 1]);
  const anchors = cls.shape[0];
  requireWeight(sd, [`${prefix}bbox_pred.weight`], [anchors * 4, channels, 1, 1]);

  const g = new GraphBuilder('rpn_head');
  const w = (key: string, shape?: number[]): Value => g.initializer(key, requireWeight(sd, [key], shape));
  const convs = layers.map((l) => ({ w: w(l.weight, [channels, channels, 3, 3]), b: w(l.bias, [channels]) }));
  const clsW = w(`${prefix}cls_logits.weight`);
  const clsB = w(`${prefix}cls_logits.bias`, [anchors]);
  const boxW = w(`${prefix}bbox_pred.weight`);
  const boxB = w(`${prefix}bbox_pred.bias`, [anchors * 4]);
  const flatObjectness = g.constInt64([0, -1]);
  const flatDeltas = g.constInt64([0, -1, 4]);
  const perLevelDeltas = g.constInt64([0, anchors, 4, -1]);

  const objectness: Value[] = [];
  const deltas: Value[] = [];
  for (const name of spec.levelNames) {
    let t = g.input(name, 'float32', ['N', channels, `H${name}`, `W${name}`]);
    for (const c of convs) t = g.relu(g.conv(t, c.w, c.b, { pads: [1, 1, 1, 1] }));
    // (N, A, H, W) -> (N, H, W, A) -> (N, H*W*A)
    objectness.push(g.reshape(g.transpose(g.conv(t, clsW, clsB), [0, 2, 3, 1]), flatObjectness));
    // (N, A*4, H, W) -> (N, A, 4, H*W) -> (N, H*W, A, 4) -> (N, H*W*A, 4)
    const d = g.reshape(g.conv(t, boxW, boxB), perLevelDeltas);
    deltas.push(g.reshape(g.transpose(d, [0, 3, 1, 2]), flatDeltas));
  }
  g.output(g.concat(objectness, 1), 'objectness', 'float32', ['N', 'R']);
  g.output(g.concat(deltas, 1), 'deltas', 'float32', ['N', 'R', 4]);
  return onnxNetwork(g.toModel(), { anchorsPerLocation: anchors, channels, convDepth: layers.length });
}
