/**
 * The heads' in-graph MultiScaleRoIAlign, re-targeted at a GPU provider: a package's box and mask
 * head networks pool with one ONNX `RoiAlign` node per level (heads/pooler.ts), which no
 * onnxruntime WebGPU build implements and which CUDA implements only at opset 10. These rewrites
 * keep every other node, weight and the graph's interface (inputs `<level>`, `rois_<level>`,
 * `batchIndices_<level>`, `order`), so the same feeds drive the rewritten network.
 *
 * - 'webgpu': each RoiAlign becomes the GridSample graph of roiAlign.ts (one image per run: the
 *   batch indices are not read).
 * - 'cuda': each RoiAlign-16 becomes a RoiAlign-10 (the version the CUDA provider has) in a model
 *   of opset 15. RoiAlign-10 computes torchvision's aligned=False ('output_half_pixel'); a node
 *   asking for aligned=True ('half_pixel') gets its RoIs shifted by -0.5 / spatial_scale first,
 *   which is exact except for RoIs under one feature pixel (aligned=False floors their size at 1).
 */
import { GraphBuilder, type OnnxAttribute, type OnnxModel, type OnnxNode } from '../onnx/index.js';
import { addGridRoiAlign } from './roiAlign.js';
import { inlineSubgraph } from './inline.js';

export type PoolingTarget = 'webgpu' | 'cuda';

/** The opset of re-targeted CUDA heads: the last one whose RoiAlign is RoiAlign-10. */
export const CUDA_HEAD_OPSET = 15;

/** A RoiAlign node's attributes, with ONNX's defaults. */
function roiAlignAttributes(node: OnnxNode): { outputSize: number; samplingRatio: number; spatialScale: number; aligned: boolean; mode: string } {
  const a = node.attributes;
  const num = (key: string, fallback: number) => (a[key] as { value: number } | undefined)?.value ?? fallback;
  const str = (key: string, fallback: string) => (a[key] as { value: string } | undefined)?.value ?? fallback;
  const h = num('output_height', 1);
  const w = num('output_width', 1);
  if (h !== w) throw new Error(`RoiAlign node '${node.name}' pools to ${h}x${w}: the GPU poolers are square, as torchvision's`);
  return {
    outputSize: h, samplingRatio: num('sampling_ratio', 0), spatialScale: num('spatial_scale', 1),
    aligned: str('coordinate_transformation_mode', 'half_pixel') === 'half_pixel', mode: str('mode', 'avg'),
  };
}

/** The GridSample pooler for one RoiAlign node: inputs (features, rois), output pooled. */
function gridPooler(node: OnnxNode): OnnxModel {
  const o = roiAlignAttributes(node);
  if (o.mode !== 'avg' || o.aligned) {
    throw new Error(`RoiAlign node '${node.name}': the WebGPU pooler does torchvision's roi_align (mode 'avg', aligned=False, i.e. 'output_half_pixel'), not mode '${o.mode}'${o.aligned ? ' with half_pixel' : ''}`);
  }
  const g = new GraphBuilder(`gridRoiAlign_${node.name}`);
  const features = g.input('features', 'float32', [1, 'C', 'H', 'W']);
  const rois = g.input('rois', 'float32', ['K', 4]);
  g.output(addGridRoiAlign(g, features, rois, o), 'pooled', 'float32', ['K', 'C', o.outputSize, o.outputSize]);
  return g.toModel();
}

/** RoiAlign-10 for one RoiAlign-16 node (inputs features, rois, batch indices; output pooled). */
function roiAlign10(node: OnnxNode): OnnxModel {
  const o = roiAlignAttributes(node);
  const g = new GraphBuilder(`roiAlign10_${node.name}`);
  const features = g.input('features', 'float32', ['N', 'C', 'H', 'W']);
  let rois = g.input('rois', 'float32', ['K', 4]);
  const batch = g.input('batchIndices', 'int64', ['K']);
  if (o.aligned) rois = g.sub(rois, g.constFloat([0.5 / o.spatialScale], [1]));
  const attributes: Record<string, OnnxAttribute> = { ...node.attributes };
  delete attributes.coordinate_transformation_mode;
  g.output(g.node('RoiAlign', [features, rois, batch], attributes)[0], 'pooled', 'float32', ['K', 'C', o.outputSize, o.outputSize]);
  return g.toModel({ opset: CUDA_HEAD_OPSET });
}

/**
 * `model` (a head network) with each RoiAlign node re-targeted at `target`.
 * @throws Error when the model has no RoiAlign node (a head taking `pooled` needs no rewrite)
 */
export function retargetHeadPooling(model: OnnxModel, target: PoolingTarget): OnnxModel {
  let out = model;
  let count = 0;
  for (let i = out.graph.nodes.length - 1; i >= 0; i--) {
    const node = out.graph.nodes[i];
    if (node.opType !== 'RoiAlign' || (node.domain ?? '') !== '') continue;
    out = inlineSubgraph(out, i, target === 'webgpu' ? gridPooler(node) : roiAlign10(node), `${target}Pool${count++}_`);
  }
  if (count === 0) throw new Error(`head graph '${model.graph.name}' has no RoiAlign node to re-target`);
  return target === 'cuda' ? { ...out, opset: Math.min(out.opset, CUDA_HEAD_OPSET) } : out;
}
