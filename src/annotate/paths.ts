/**
 * Where per-image outputs (previews, YOLO label files) go inside --out. An image's `fileName` is
 * relative to where it was found, but a list or COCO file may name images outside that folder
 * ('../x.jpg', '/data/x.jpg'): such a name never becomes a path that climbs out of --out.
 */
import { posix } from 'node:path';

/**
 * `fileName` as a '/'-separated path safe to join under an output folder: unchanged when it is a
 * plain relative path, else `_outside/<id>-<base name>` so that it cannot escape or collide.
 */
export function outputRelativePath(fileName: string, id: number): string {
  const name = fileName.replace(/\\/g, '/');
  const normal = posix.normalize(name);
  const plain = !posix.isAbsolute(normal) && !/^[A-Za-z]:/.test(normal) && normal !== '.' && !normal.split('/').includes('..');
  return plain ? normal : `_outside/${id}-${posix.basename(normal)}`;
}

/** `path` with its extension replaced (or added): `a/b.jpg` -> `a/b.png`. */
export function withExtension(path: string, extension: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return (dot > slash + 1 ? path.slice(0, dot) : path) + extension;
}
