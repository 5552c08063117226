/**
 * Where onnxruntime placed each node of each session, read from its verbose log (stderr of a child
 * process that announces each session with a line `@@graph <name>` before creating it).
 */
import { expect } from 'chai';

/** One session's placements; onnxruntime lists the nodes unless all are on one provider ('All nodes placed on'). */
export interface Placement { graph: string; cpu: Array<{ op: string; name: string }>; gpu: Array<{ op: string; name: string }>; allOnGpu: number }

export function placements(stderr: string): Placement[] {
  const out: Placement[] = [];
  let current: Placement | undefined;
  let side: 'cpu' | 'gpu' | undefined;
  for (const line of stderr.split('\n')) {
    const graph = /^@@graph (.*)$/.exec(line);
    if (graph) out.push(current = { graph: graph[1], cpu: [], gpu: [], allOnGpu: 0 });
    const placed = /placed on \[(\w+)ExecutionProvider\]/.exec(line);
    if (placed) side = placed[1] === 'CPU' ? 'cpu' : placed[1] === 'WebGpu' ? 'gpu' : undefined;
    const all = /All nodes placed on \[(\w+)ExecutionProvider\]\. Number of nodes: (\d+)/.exec(line);
    if (all && current) {
      expect(all[1], `${current.graph}: all nodes on ${all[1]}`).to.equal('WebGpu');
      current.allOnGpu = Number(all[2]);
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3}(\w+) \((.*)\)$/.exec(line);
    if (node && current && side) current[side].push({ op: node[1], name: node[2] });
  }
  return out;
}

