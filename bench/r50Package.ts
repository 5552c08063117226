/**
 * The seeded ResNet-50-FPN Mask R-CNN of `npm run bench` as a resdet package under
 * .cache/precision/r50 (shared by bench/precision.ts and bench/gpu.ts):
 * bench/precision_reference.py writes the torchvision checkpoint (seeded, calibrated random
 * weights), its 480x640 image (800x1066 network input), calibration images and the model exported
 * whole to ONNX (whole.onnx, bench:precision's reference); `resdet convert`
 * (convertCheckpoint) makes the package on every call, so that it measures today's converter.
 * The checkpoint and the rest are deterministic and cached. Needs python3-torchvision the first time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { convertCheckpoint } from '../src/convert/index.js';
import { pythonExecutable, repoRoot } from '../test/helpers/reference.js';

/** Where the checkpoint, image, calibration images and package live. */
export const r50Folder = join(repoRoot, '.cache', 'precision', 'r50');

/**
 * The package, converted now, and its image (the torchvision side built when missing).
 * @param calibrationCount calibration images written with a new checkpoint (bench:precision's int8)
 * @returns the package folder, the 480x640 image and the checkpoint folder
 */
export async function r50Package(calibrationCount = 8): Promise<{ folder: string; pkg: string; image: string }> {
  const folder = r50Folder;
  mkdirSync(folder, { recursive: true });
  if (!existsSync(join(folder, 'model.pth')) || !existsSync(join(folder, 'whole.onnx'))) {
    console.log('\n[R50-FPN] torchvision: building the seeded model of npm run bench and exporting it whole to ONNX...');
    const py = spawnSync(pythonExecutable(), [join(repoRoot, 'bench', 'precision_reference.py'), folder, String(calibrationCount)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (py.status !== 0) throw new Error(`bench/precision_reference.py failed (exit ${py.status}); is python3-torchvision installed? (npm run setup:test)`);
  }
  const pkg = join(folder, 'pkg');
  await convertCheckpoint(join(folder, 'model.pth'), { out: pkg, force: true });
  return { folder, pkg, image: join(folder, 'image.png') };
}
