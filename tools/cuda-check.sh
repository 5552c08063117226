#!/usr/bin/env bash
# The CUDA check, for a machine with an NVIDIA GPU (CUDA 12, cuDNN 9): run from the repository root.
#   bash tools/cuda-check.sh
# 1. installs onnxruntime-node's CUDA provider files (npm's --onnxruntime-node-install=cuda12) and builds;
# 2. runs the GPU operator graphs on the CUDA provider against the CPU references: NonMaxSuppression
#    (opsets 10 and 11) against postprocess/nms, and the bundled model's heads re-targeted at
#    RoiAlign-10 (gpu/headPooling.ts) against the package's heads on the CPU provider, with
#    onnxruntime's placement log showing RoiAlign and NonMaxSuppression on CUDAExecutionProvider;
# 3. runs the bundled model end to end with provider 'cuda' and 'cpu' (the end-to-end rule) and
#    prints per-stage times of both.
# Prints PASS or FAIL per check; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-save --onnxruntime-node-install=cuda12 onnxruntime-node
npm run build
cat > /tmp/resdet-cuda-check.mjs <<'JS'
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { buildNonMaxSuppression, retargetHeadPooling } from './dist/gpu/index.js';
import { readModel, serializeModel } from './dist/onnx/index.js';
import { nms } from './dist/postprocess/nms.js';
import { splitByLevel } from './dist/heads/pooler.js';
import { loadModel, bundledModelsDir } from './dist/src/index.js';
import { matchDetections } from './dist/test/helpers/matching.js';
import { resdetDetections } from './dist/test/helpers/parity.js';
let failed = 0;
const check = (name, ok, detail = '') => { console.log(`${ok ? 'PASS' : 'FAIL'} ${name} ${detail}`); if (!ok) failed++; };
const cuda = { executionProviders: ['cuda'], logSeverityLevel: 0 };
// NMS
const n = 2000, boxes = new Float32Array(4 * n), scores = new Float32Array(n);
for (let i = 0; i < n; i++) { const x = (i * 37) % 500, y = (i * 91) % 400, w = 20 + (i % 50), h = 20 + (i % 70); boxes.set([x, y, x + w, y + h], 4 * i); scores[i] = ((i * 7919) % n) / n; }
for (const opset of [10, 11]) {
  const s = await ort.InferenceSession.create(serializeModel(buildNonMaxSuppression(opset)), cuda);
  const out = await s.run({ boxes: new ort.Tensor('float32', boxes, [n, 4]), scores: new ort.Tensor('float32', scores, [n]), iouThreshold: new ort.Tensor('float32', Float32Array.of(0.5), [1]) });
  check(`NonMaxSuppression opset ${opset} on cuda equals nms`, JSON.stringify(Array.from(out.keep.data, Number)) === JSON.stringify(Array.from(nms(boxes, scores, 0.5))));
}
// heads
const dir = `${bundledModelsDir}/shapes`;
const levels = JSON.parse(readFileSync(`${dir}/resdet.json`, 'utf8')).backbone.levels.filter((l) => l.name !== 'pool');
const k = 200, rois = new Float32Array(4 * k);
for (let i = 0; i < k; i++) { const x = (i * 13) % 200, y = (i * 29) % 200; rois.set([x, y, x + 8 + (i % 90), y + 8 + ((i * 3) % 90)], 4 * i); }
const split = splitByLevel(rois, levels.map((l) => l.stride), 224, 4, 1e-6);
const feeds = { order: new ort.Tensor('int64', split.order, [k]), labels: new ort.Tensor('int64', BigInt64Array.from({ length: k }, (_, i) => BigInt(1 + (i % 3))), [k]) };
levels.forEach((l, i) => {
  const shape = [1, l.channels, 256 / l.stride, 256 / l.stride];
  feeds[l.name] = new ort.Tensor('float32', Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, j) => Math.sin(j * 0.37 + i)), shape);
  feeds[`rois_${l.name}`] = new ort.Tensor('float32', split.rois[i], [split.rois[i].length / 4, 4]);
  feeds[`batchIndices_${l.name}`] = new ort.Tensor('int64', split.batchIndices[i], [split.batchIndices[i].length]);
});
for (const head of ['boxHead', 'maskHead']) {
  const bytes = readFileSync(`${dir}/${head}.onnx`);
  const pick = (s) => Object.fromEntries(s.inputNames.map((name) => [name, feeds[name]]));
  const cpuSession = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  const ref = await cpuSession.run(pick(cpuSession));
  const gpuSession = await ort.InferenceSession.create(serializeModel(retargetHeadPooling(readModel(bytes), 'cuda')), cuda);
  const t0 = performance.now();
  const out = await gpuSession.run(pick(gpuSession));
  for (const name of Object.keys(ref)) {
    let worst = 0; for (let i = 0; i < ref[name].data.length; i++) worst = Math.max(worst, Math.abs(ref[name].data[i] - out[name].data[i]));
    check(`${head} with RoiAlign-10 on cuda: ${name}`, worst < 1e-3, `max diff ${worst.toExponential(2)}, ${(performance.now() - t0).toFixed(1)} ms`);
  }
}
// end to end
const image = 'samples/shapes-1.png';
const results = {};
for (const provider of ['cpu', 'cuda']) {
  const m = await loadModel('shapes', { provider });
  await m.detect(image);
  results[provider] = await m.detect(image, { scoreThreshold: 0 });
  console.log(provider, 'timings (ms)', JSON.stringify(results[provider].timings, (k, v) => typeof v === 'number' ? Math.round(v * 10) / 10 : v));
  await m.release();
}
const r = matchDetections(resdetDetections(results.cuda, true), resdetDetections(results.cpu, true));
check('shapes end to end: cuda detections equal cpu', r.recall === 1 && r.precision === 1 && r.maskMatched === r.maskPairs, JSON.stringify(r));
process.exit(failed ? 1 : 0);
JS
cp /tmp/resdet-cuda-check.mjs ./.resdet-cuda-check.mjs
trap 'rm -f ./.resdet-cuda-check.mjs' EXIT
node ./.resdet-cuda-check.mjs 2>&1 | tee /tmp/resdet-cuda-check.log | grep -E '^(PASS|FAIL|cpu|cuda) '
echo "placements (RoiAlign / NonMaxSuppression):"
grep -E 'placed on \[CUDAExecutionProvider\]|placed on \[CPUExecutionProvider\]|  (RoiAlign|NonMaxSuppression) ' /tmp/resdet-cuda-check.log | sed 's/.*VerifyEachNodeIsAssignedToAnEp\] //' | head -40
