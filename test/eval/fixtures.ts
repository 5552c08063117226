/**
 * Ground truths, detections and pycocotools' COCOeval outputs, written by
 * test/reference/coco_fixtures.py with cocoapi's PythonAPI built outside the repository
 * (see test/fixtures/coco/README.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CocoDataset, CocoDetection } from '../../src/eval/index.js';
import { repoRoot } from '../helpers/reference.js';

export interface Reference {
  stats: number[];
  summary: string;
  precision?: number[];
  precisionSumOverR?: number[];
  recall: number[];
  counts?: number[];
}
export interface Case {
  gt: CocoDataset;
  dt: CocoDetection[];
  bbox?: Reference;
  segm: Reference;
  bboxFromSegm?: Reference | null;
}

/** Reads test/fixtures/coco/<name>. */
export function cocoFixture<T = Case>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'coco', name), 'utf8')) as T;
}

