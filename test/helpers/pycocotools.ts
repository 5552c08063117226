/**
 * The real pycocotools, for tests that prove our COCO files load in `COCO()` and that its masks
 * agree with ours. pycocotools is not in Debian: tools/build-pycocotools.sh builds it from the
 * unmodified cocodataset/cocoapi source vendored in third_party/cocoapi into .cache/pycocotools
 * (`npm run setup:test` runs it). A test that needs it and cannot find it fails saying how to
 * build it — never a silent skip.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pythonExecutable, referenceDir, repoRoot } from './reference.js';

const run = promisify(execFile);

/** The command that builds pycocotools where {@link pycocotoolsDir} looks for it. */
export const buildPycocotoolsCommand = 'bash tools/build-pycocotools.sh';

/** What pycocotools made of one annotation (test/reference/pycoco_validate.py). */
export interface PycocoAnnotation {
  id: number;
  /** Pixels of COCO.annToMask's mask. */
  maskArea: number;
  /** mask.area of COCO.annToRLE's RLE (equal to maskArea unless pycocotools disagrees with itself). */
  rleArea: number;
  /** mask.toBbox of the RLE: [x, y, w, h] of the mask's pixels. */
  maskBbox: [number, number, number, number];
  /** The annotation's own `area` and `bbox` fields, as written. */
  area: unknown;
  bbox: unknown;
}

/** What pycocotools' COCO() read from an instances file. */
export interface PycocoReport {
  /** Sizes of COCO.imgs, COCO.anns, COCO.cats (dicts by id: duplicate ids count once). */
  images: number;
  annotations: number;
  categories: number;
  /** Sorted ids of COCO.getImgIds() and COCO.getAnnIds(). */
  imageIds: number[];
  annotationIds: number[];
  perAnnotation: PycocoAnnotation[];
  /** Annotations pycocotools could not turn into a mask, or whose mask is not its image's size. */
  errors: string[];
}

/**
 * The folder holding the built `pycocotools/` package: $PYCOCOTOOLS_DIR, else .cache/pycocotools.
 * @throws Error naming the folder and the command that builds it, when it holds no built package
 */
export function pycocotoolsDir(): string {
  const fromEnv = process.env.PYCOCOTOOLS_DIR;
  const dir = fromEnv || join(repoRoot, '.cache', 'pycocotools');
  const pkg = join(dir, 'pycocotools');
  const built = existsSync(join(pkg, 'coco.py')) && readdirSync(pkg).some((f) => /^_mask\..*\.so$/.test(f));
  if (!built) {
    const where = fromEnv ? `PYCOCOTOOLS_DIR=${fromEnv}` : dir;
    throw new Error(`pycocotools is not built in ${where} (no pycocotools/coco.py and _mask*.so); `
      + `build it from the vendored cocoapi with \`${buildPycocotoolsCommand}\` in ${repoRoot} `
      + '(needs Debian\'s cython3, gcc, python3-dev, python3-numpy: `npm run setup:test` installs them and builds it)');
  }
  return dir;
}

/**
 * Loads `instancesJson` with pycocotools' COCO() and runs annToRLE, annToMask and mask.area on
 * every annotation (test/reference/pycoco_validate.py).
 * @throws Error with pycocotools' message when COCO() cannot load the file at all
 */
export async function validateWithPycocotools(instancesJson: string): Promise<PycocoReport> {
  const dir = pycocotoolsDir();
  const script = join(referenceDir, 'pycoco_validate.py');
  let stdout: string;
  try {
    ({ stdout } = await run(pythonExecutable(), [script, instancesJson], {
      encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PYCOCOTOOLS_DIR: dir },
    }));
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: number | string };
    throw new Error(`pycocotools could not load ${instancesJson} (${pythonExecutable()} ${script}, exit ${err.code}):\n${err.stderr || err.message}`, { cause: e });
  }
  return JSON.parse(stdout) as PycocoReport;
}
