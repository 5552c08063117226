/**
 * MultiScaleRoIAlign as one GPU graph (torchvision's `MultiScaleRoIAlign`, aligned=False), with
 * the interface of the heads' in-graph pooler: the level of each RoI is assigned on the CPU
 * (torchvision's LevelMapper; `splitByLevel` in heads/pooler.ts), each level pools its RoIs with
 * the GridSample RoIAlign of roiAlign.ts, and a Gather restores the RoIs' order. For heads that
 * take `pooled` as input, and for testing the pooler on its own.
 *
 * K: RoIs, Kl: RoIs of level l, C: channels, P: pooled size.
 */
import { GraphBuilder, type OnnxModel, attr } from '../onnx/index.js';
import { addGridRoiAlign } from './roiAlign.js';

export interface GridPoolerSpec {
  /** The pooled levels, by increasing stride (torchvision's featmap_names). */
  levels: ReadonlyArray<{ name: string; stride: number }>;
  channels: number;
  outputSize: number;
  samplingRatio: number;
}

/**
 * The graph: inputs `<level>` [1, C, Hl, Wl], `rois_<level>` [Kl, 4], `order` int64 [K] (the
 * position of each RoI in the concatenated per-level results); output `pooled` [K, C, P, P].
 */
export function buildGridMultiScaleRoiAlign(spec: GridPoolerSpec): OnnxModel {
  const g = new GraphBuilder('gridMultiScaleRoiAlign');
  const pooled = spec.levels.map((level) => {
    const features = g.input(level.name, 'float32', [1, spec.channels, `H${level.name}`, `W${level.name}`]);
    const rois = g.input(`rois_${level.name}`, 'float32', [`K${level.name}`, 4]);
    return addGridRoiAlign(g, features, rois, { outputSize: spec.outputSize, samplingRatio: spec.samplingRatio, spatialScale: 1 / level.stride });
  });
  const all = pooled.length === 1 ? pooled[0] : g.concat(pooled, 0);
  const order = g.input('order', 'int64', ['K']);
  const out = g.node('Gather', [all, order], { axis: attr.int(0) })[0];
  g.output(out, 'pooled', 'float32', ['K', spec.channels, spec.outputSize, spec.outputSize]);
  return g.toModel();
}
