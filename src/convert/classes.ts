/**
 * Class names for a converted model: COCO's 91 for torchvision's 91-class checkpoints, or a file
 * the user gives (one name per line, or a JSON array / {id: name} object).
 */
import { readFileSync } from 'node:fs';
import { cocoCategoryNames } from '../cocoClasses.js';
import { ModelPackageError } from '../modelPackage/index.js';

/** Reads a classes file: text (one per line, blank lines ignored), JSON array, or JSON {id: name}. */
export function readClassesFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ModelPackageError(path, `cannot read the classes file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (e) {
      throw new ModelPackageError(path, `classes file is not valid JSON (${(e as Error).message})`);
    }
    if (Array.isArray(parsed) && parsed.every((c) => typeof c === 'string')) return parsed as string[];
    if (!Array.isArray(parsed) && typeof parsed === 'object' && parsed !== null) {
      const entries = Object.entries(parsed as Record<string, unknown>);
      const names: string[] = [];
      for (const [id, name] of entries) {
        const i = Number(id);
        if (!Number.isInteger(i) || i < 0 || typeof name !== 'string') throw new ModelPackageError(path, `classes entry ${JSON.stringify(id)}: ${JSON.stringify(name)} is not an integer id and a name`);
        names[i] = name;
      }
      return Array.from(names, (n, i) => n ?? (i === 0 ? '__background__' : 'N/A'));
    }
    throw new ModelPackageError(path, 'classes JSON must be an array of names or an object {id: name}');
  }
  return trimmed.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

/**
 * The class list (background first) for a checkpoint with `numClasses` outputs.
 * @param given names from --classes, with or without the background entry
 */
export function resolveClasses(numClasses: number, given: string[] | undefined, source: string): string[] {
  if (given) {
    if (given.length === numClasses) return given;
    if (given.length === numClasses - 1) return ['__background__', ...given];
    throw new ModelPackageError(source, `lists ${given.length} classes; the checkpoint predicts ${numClasses} (background included), so give ${numClasses - 1} or ${numClasses} names`);
  }
  if (numClasses === cocoCategoryNames.length) return [...cocoCategoryNames];
  return ['__background__', ...Array.from({ length: numClasses - 1 }, (_, i) => `class${i + 1}`)];
}
