#!/bin/sh
# Converts the trained shapes checkpoint into models/shapes and records the transform sizes it was
# trained with (min_size = max_size = 256) in resdet.json, the only settings that differ from
# torchvision's inference defaults. Run from the repository root after `npx tsc -p tsconfig.json`.
set -e
CKPT=${1:-.cache/train/model_final.pth}
printf 'circle\nrectangle\ntriangle\nstar\nring\ncross\n' > .cache/shapes/classes.txt
node dist/src/cli/main.js convert "$CKPT" --out models/shapes --classes .cache/shapes/classes.txt --eps 1e-5 --force
node --input-type=module -e "
import { readFileSync, writeFileSync } from 'node:fs';
const file = 'models/shapes/resdet.json';
const m = JSON.parse(readFileSync(file, 'utf8'));
m.config = { ...m.config, transform: { ...(m.config.transform ?? {}), minSize: 256, maxSize: 256 } };
m.source = { ...m.source, trainedBy: 'tools/train_shapes.py', dataset: 'resdet dataset --train 2500 --val 200 --seed 1 --size 256x256' };
writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
"
du -sh models/shapes
