/**
 * The input list of `resdet annotate`: folders, globs, list files and COCO files turned into one
 * global list of images with stable ids, the same on every machine (so that shards agree).
 *
 * A spec is, in this order of checks:
 * - a folder: walked recursively for image files (extensions below, any case);
 * - a .txt or .lst file: one image path per line, relative to the list file's folder (absolute
 *   paths allowed); blank lines and lines starting with '#' are skipped, each line is trimmed;
 * - a .json file: a COCO file, whose `images` give `id` and `file_name` (resolved against the
 *   file's folder, or `imageRoot`);
 * - any other existing file: one image, named by its base name;
 * - a path that does not exist but holds `*`, `?`, `[...]` or `{a,b}`: a glob, see matchGlob.
 *
 * Decisions:
 * - Order: a folder's or glob's images are sorted by their '/'-separated relative path compared as
 *   UTF-8 bytes (not by locale); list and COCO files keep their own order; specs in the order given.
 * - Names are left as the file system gives them (no Unicode normalisation): a folder copied from
 *   macOS may hold NFD names, which then sort and match as NFD.
 * - Hidden entries (names starting with '.', e.g. .git, macOS ._* files) below a folder or below a
 *   glob's fixed part are skipped; name a hidden folder in the spec itself to include it.
 * - Symlinked files are read through the link and named by the link. Symlinked folders are not
 *   followed (one warning per spec): they can leave the tree or loop; give them as specs of their
 *   own. A spec that is itself a link to a folder is walked.
 * - `exclude` folders (the run's --out) are never walked into, whatever spelling reaches them.
 * - Duplicates: the same real file (device and inode) reached twice is kept once, at its first
 *   place, with a warning; two different files with the same fileName are an error (fileName is
 *   the dataset's key), and so are a COCO id and another image's id that collide.
 * - Files named by a list or COCO file are not required to exist: a missing one is an input that
 *   fails when read (it is recorded among the failures), not a reason to refuse the whole run.
 */
import { type Stats, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, posix, resolve, sep } from 'node:path';
import { AnnotateError } from './errors.js';
import { compileGlob, globBase, hasGlobMagic } from './glob.js';
import type { InputImage } from './types.js';

/** The extensions of the images a folder walk or a glob picks up (compared lower-cased). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif'];
const LIST_EXTENSIONS = new Set(['.txt', '.lst']);

export interface ListInputsOptions {
  /** Folders never walked into (the run's --out). */
  exclude?: readonly string[];
  /** The folder a COCO file's `file_name`s are relative to (default: the COCO file's folder). */
  imageRoot?: string;
  /** Told of each input skipped and why (default: console.warn). */
  warn?: (message: string) => void;
  /** What relative specs are relative to (default: process.cwd()). */
  cwd?: string;
}

/** An image found by one spec, before duplicates are dropped and indices given. */
interface Candidate {
  fileName: string;
  path: string;
  /** The spec it came from, for messages. */
  spec: string;
  /** Its COCO id, when it came from a COCO file. */
  cocoId?: number;
  /** dev:ino of the file read, when it exists. */
  real?: string;
}

interface Context {
  cwd: string;
  imageRoot?: string;
  warn: (message: string) => void;
  /** dev:ino of the exclude folders. */
  excluded: ReadonlySet<string>;
}

function realKey(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

/** `p` '/'-separated (Windows paths use '\'; elsewhere '\' is a file name character). */
function slashed(p: string): string {
  return sep === '\\' ? p.replace(/\\/g, '/') : p;
}

/**
 * The image files under `root`, as [relative '/'-separated path, absolute path], sorted byte-wise.
 * `enter` says whether a sub-folder (by relative path) can hold a match, `accept` whether a file does.
 */
function walk(root: string, spec: string, ctx: Context, enter: (rel: string) => boolean, accept: (rel: string) => boolean): Candidate[] {
  const found: Candidate[] = [];
  const skippedLinks: string[] = [];
  const stack: string[] = [''];
  while (stack.length > 0) {
    const relDir = stack.pop()!;
    const dir = relDir ? join(root, relDir) : root;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (!relDir) throw new AnnotateError('ANNOTATE_INPUT', `${spec}: cannot read the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
      ctx.warn(`${dir}: cannot read the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); skipped`);
      continue;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      const path = join(dir, entry.name);
      let st: Stats | undefined;
      if (entry.isSymbolicLink()) {
        st = statSync(path, { throwIfNoEntry: false });
        if (st?.isDirectory()) {
          skippedLinks.push(rel);
          continue;
        }
      }
      if (entry.isDirectory()) {
        if (!enter(rel)) continue;
        const dst = statSync(path, { throwIfNoEntry: false });
        if (dst && !ctx.excluded.has(realKey(dst))) stack.push(rel);
      } else if ((entry.isFile() || st?.isFile()) && isImageName(entry.name) && accept(rel)) {
        st ??= statSync(path, { throwIfNoEntry: false });
        if (st) found.push({ fileName: rel, path, spec, real: realKey(st) });
      }
    }
  }
  if (skippedLinks.length > 0) {
    ctx.warn(`${spec}: ${skippedLinks.length} symlinked folder(s) not followed (e.g. ${skippedLinks[0]}); give them as inputs of their own to include them`);
  }
  return sortByName(found);
}

/** Sorted by fileName's UTF-8 bytes (each encoded once): the same order on every machine and locale. */
function sortByName(found: Candidate[]): Candidate[] {
  const keyed = found.map((c) => ({ c, key: Buffer.from(c.fileName, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.c);
}

function walkFolder(spec: string, root: string, ctx: Context): Candidate[] {
  const rootStat = statSync(root);
  if (ctx.excluded.has(realKey(rootStat))) return [];
  return walk(root, spec, ctx, () => true, () => true);
}

/** The images a glob matches, named relative to its fixed leading folders. */
function walkGlob(spec: string, ctx: Context): Candidate[] {
  const { base, pattern } = globBase(slashed(spec));
  const root = resolve(ctx.cwd, base || '.');
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st?.isDirectory() || ctx.excluded.has(realKey(st))) return [];
  const glob = compileGlob(pattern);
  return walk(root, spec, ctx, (rel) => glob.canHold(rel), (rel) => glob.matches(rel));
}

/** The file's text, or an AnnotateError naming it. */
function readText(path: string, spec: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new AnnotateError('ANNOTATE_INPUT', `${spec}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
}

/** The real file behind `path`, when there is one. */
function realOf(path: string): string | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st?.isFile() ? realKey(st) : undefined;
}

function readList(spec: string, file: string): Candidate[] {
  const folder = dirname(file);
  const found: Candidate[] = [];
  for (const raw of readText(file, spec).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const path = resolve(folder, line);
    found.push({ fileName: posix.normalize(slashed(line)), path, spec, real: realOf(path) });
  }
  return found;
}

function readCoco(spec: string, file: string, ctx: Context): Candidate[] {
  let data: unknown;
  try {
    data = JSON.parse(readText(file, spec));
  } catch (e) {
    if (e instanceof AnnotateError) throw e;
    throw new AnnotateError('ANNOTATE_INPUT', `${spec}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const images = (data as { images?: unknown } | null)?.images;
  if (!Array.isArray(images)) throw new AnnotateError('ANNOTATE_INPUT', `${spec}: has no "images" list (a COCO file is expected)`);
  const root = ctx.imageRoot !== undefined ? resolve(ctx.cwd, ctx.imageRoot) : dirname(file);
  const seen = new Map<number, string>();
  return images.map((image: { id?: unknown; file_name?: unknown } | null, i) => {
    const id = image?.id;
    const fileName = image?.file_name;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw new AnnotateError('ANNOTATE_INPUT', `${spec}: images[${i}].id is ${JSON.stringify(id) ?? 'missing'}, not a non-negative integer`);
    }
    if (typeof fileName !== 'string' || fileName === '') {
      throw new AnnotateError('ANNOTATE_INPUT', `${spec}: images[${i}].file_name is ${JSON.stringify(fileName) ?? 'missing'}, not a file name`);
    }
    const other = seen.get(id);
    if (other !== undefined) throw new AnnotateError('ANNOTATE_INPUT', `${spec}: image id ${id} is given to both '${other}' and '${fileName}'`);
    seen.set(id, fileName);
    const path = resolve(root, fileName);
    return { fileName, path, spec, cocoId: id, real: realOf(path) };
  });
}

/** The images of one spec (see the module comment for what a spec is). */
function readSpec(spec: string, ctx: Context): Candidate[] {
  const path = resolve(ctx.cwd, spec);
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory()) return walkFolder(spec, path, ctx);
  if (st) {
    const ext = extname(path).toLowerCase();
    if (LIST_EXTENSIONS.has(ext)) return readList(spec, path);
    if (ext === '.json') return readCoco(spec, path, ctx);
    return [{ fileName: basename(path), path, spec, real: st.isFile() ? realKey(st) : undefined }];
  }
  if (hasGlobMagic(spec)) return walkGlob(spec, ctx);
  throw new AnnotateError('ANNOTATE_INPUT', `${spec}: no such file or folder (an input is a folder, a glob, a .txt/.lst list, a COCO .json or an image)`);
}

function origin(c: Candidate): string {
  return c.path === c.spec || c.fileName === c.spec ? c.path : `${c.path} (from ${c.spec})`;
}

/**
 * Drops second sightings of a real file, refuses two files under one fileName, gives each image
 * its global index and id, and refuses ids that collide.
 */
function number(candidates: readonly Candidate[], warn: (message: string) => void): InputImage[] {
  const byReal = new Map<string, Candidate>();
  const byName = new Map<string, Candidate>();
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const first = c.real === undefined ? undefined : byReal.get(c.real);
    if (first) {
      warn(`${c.path}: the same file as ${first.path}; annotated once, as '${first.fileName}'`);
      continue;
    }
    const sameName = byName.get(c.fileName);
    if (sameName) {
      throw new AnnotateError('ANNOTATE_INPUT', `two inputs have the file name '${c.fileName}': ${origin(sameName)} and ${origin(c)}; give their common parent folder instead, so that their names differ`);
    }
    if (c.real !== undefined) byReal.set(c.real, c);
    byName.set(c.fileName, c);
    kept.push(c);
  }
  const byId = new Map<number, Candidate & { index: number }>();
  return kept.map((c, index) => {
    const id = c.cocoId ?? index + 1;
    const other = byId.get(id);
    if (other) {
      const how = (x: Candidate, i: number) => (x.cocoId !== undefined ? `'${x.fileName}' (its id in ${x.spec})` : `'${x.fileName}' (input #${i + 1}, from ${x.spec})`);
      throw new AnnotateError('ANNOTATE_INPUT', `image id ${id} would be both ${how(other, other.index)} and ${how(c, index)}; give COCO files after the other inputs, or list every image in the COCO file`);
    }
    byId.set(id, { ...c, index });
    return { index, id, fileName: c.fileName, path: c.path };
  });
}

/**
 * The global input list of `specs`, in order: ids kept from COCO files, else index + 1.
 * @throws AnnotateError (ANNOTATE_INPUT) naming a missing or broken spec, duplicate names,
 * colliding ids, or no images at all
 */
export async function listInputs(specs: readonly string[], options: ListInputsOptions = {}): Promise<InputImage[]> {
  const cwd = options.cwd ?? process.cwd();
  const excluded = new Set<string>();
  for (const folder of options.exclude ?? []) {
    const st = statSync(resolve(cwd, folder), { throwIfNoEntry: false });
    if (st?.isDirectory()) excluded.add(realKey(st));
  }
  const ctx: Context = { cwd, imageRoot: options.imageRoot, warn: options.warn ?? ((m) => console.warn(m)), excluded };
  if (specs.length === 0) throw new AnnotateError('ANNOTATE_INPUT', 'no inputs given (folders, globs, list files or COCO files)');
  const candidates: Candidate[] = [];
  for (const spec of specs) {
    const found = readSpec(spec, ctx);
    if (found.length === 0) ctx.warn(`${spec}: no images found (extensions ${IMAGE_EXTENSIONS.join(' ')})`);
    for (const c of found) candidates.push(c);
  }
  if (candidates.length === 0) throw new AnnotateError('ANNOTATE_INPUT', `no images found in ${specs.join(', ')}`);
  return number(candidates, ctx.warn);
}

