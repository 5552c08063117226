/**
 * Where onnxruntime placed each node of each session, read from its verbose log (stderr of a child
 * process that creates each session with `logId: <graph name>`). Every log line carries its
 * session's log id, so the placements are attributed whatever order the native log lines and the
 * child's own writes reach the pipe in (announcing each session with a line of its own before
 * creating it raced with onnxruntime's buffered log and misattributed a graph now and then).
 */
import { expect } from 'chai';

/** One session's placements; onnxruntime lists the nodes unless all are on one provider ('All nodes placed on'). */
export interface Placement { graph: string; cpu: Array<{ op: string; name: string }>; gpu: Array<{ op: string; name: string }>; allOnGpu: number }

/** The sessions' placements, in the order their log ids first appear. */
export function placements(stderr: string): Placement[] {
  const byGraph = new Map<string, Placement & { side?: 'cpu' | 'gpu' }>();
  for (const line of stderr.split('\n')) {
    const tagged = /\[\w:onnxruntime:([^,\]]+), [^\]]*VerifyEachNodeIsAssignedToAnEp\](.*)$/.exec(line);
    if (!tagged) continue;
    const [, graph, text] = tagged;
    let current = byGraph.get(graph);
    if (!current) byGraph.set(graph, current = { graph, cpu: [], gpu: [], allOnGpu: 0 });
    const placed = /placed on \[(\w+)ExecutionProvider\]/.exec(text);
    if (placed) current.side = placed[1] === 'CPU' ? 'cpu' : placed[1] === 'WebGpu' ? 'gpu' : undefined;
    const all = /All nodes placed on \[(\w+)ExecutionProvider\]\. Number of nodes: (\d+)/.exec(text);
    if (all) {
      expect(all[1], `${graph}: all nodes on ${all[1]}`).to.equal('WebGpu');
      current.allOnGpu = Number(all[2]);
    }
    const node = /^\s{3}(\w+) \((.*)\)$/.exec(text);
    if (node && current.side) current[current.side].push({ op: node[1], name: node[2] });
  }
  return [...byGraph.values()].map(({ side: _side, ...p }) => p);
}
