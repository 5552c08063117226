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

/**
 * Each input's preview file under previews/, by file name: its name with the extension `.png`
 * where that is no other input's (`a/b.jpg` -> `a/b.png`); else its whole name plus `.png`
 * (`gray.jpg` -> `gray.jpg.png` beside `gray.png`); else `<id>-` before the base name. Names
 * differing only in case count as the same (a case-insensitive file system merges them). Computed
 * over the whole input list, so every shard names a preview alike.
 */
export function previewNames(inputs: ReadonlyArray<{ fileName: string; id: number }>): Map<string, string> {
  const key = (name: string) => name.toLowerCase();
  const rel = inputs.map((i) => outputRelativePath(i.fileName, i.id));
  const plain = rel.map((r) => withExtension(r, '.png'));
  const wanted = new Map<string, number>();
  for (const p of plain) wanted.set(key(p), (wanted.get(key(p)) ?? 0) + 1);
  const claimed = new Set<string>();
  const names = new Map<string, string>();
  const claim = (i: number, candidates: string[]) => {
    let name = candidates.find((c) => !claimed.has(key(c)));
    for (let n = 1; name === undefined; n++) {
      const slash = plain[i].lastIndexOf('/');
      const c = `${plain[i].slice(0, slash + 1)}${inputs[i].id}${n > 1 ? `-${n}` : ''}-${plain[i].slice(slash + 1)}`;
      if (!claimed.has(key(c))) name = c;
    }
    claimed.add(key(name));
    names.set(inputs[i].fileName, name);
  };
  // PNG inputs first: their preview keeps their own name.
  inputs.forEach((_, i) => {
    if (rel[i] === plain[i]) claim(i, [plain[i]]);
  });
  inputs.forEach((_, i) => {
    if (rel[i] !== plain[i]) claim(i, wanted.get(key(plain[i])) === 1 ? [plain[i], `${rel[i]}.png`] : [`${rel[i]}.png`]);
  });
  return names;
}
