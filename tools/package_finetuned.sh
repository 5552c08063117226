#!/bin/sh
# Converts a tools/finetune.py run into a model package: `resdet convert` with the run's class names
# (classes.txt) and FrozenBatchNorm eps 1e-5 (the BatchNorm2d bodies it trains), then records in
# resdet.json the transform sizes the run trained at (transform.json: min_size / max_size), which
# differ from torchvision's 800 / 1333 for the compact shapes family. Run from the repository root
# after `npm run build`:  sh tools/package_finetuned.sh runs/ft my_model
set -e
RUN=${1:?usage: tools/package_finetuned.sh <finetune.py --out folder> <package folder>}
PKG=${2:?usage: tools/package_finetuned.sh <finetune.py --out folder> <package folder>}
for f in model_final.pth classes.txt transform.json; do
  [ -f "$RUN/$f" ] || { echo "tools/package_finetuned.sh: $RUN/$f: no such file (has tools/finetune.py finished there?)" >&2; exit 2; }
done
node dist/src/cli/main.js convert "$RUN/model_final.pth" --out "$PKG" --classes "$RUN/classes.txt" --eps 1e-5 --force
RUN="$RUN" PKG="$PKG" node --input-type=module -e "
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.env.PKG + '/resdet.json';
const t = JSON.parse(readFileSync(process.env.RUN + '/transform.json', 'utf8'));
const m = JSON.parse(readFileSync(file, 'utf8'));
m.config = { ...m.config, transform: { ...(m.config.transform ?? {}), minSize: t.minSize, maxSize: t.maxSize } };
m.source = { ...m.source, trainedBy: 'tools/finetune.py' };
writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
"
