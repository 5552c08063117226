/**
 * Glob patterns for `resdet annotate` inputs, matched against '/'-separated relative paths while
 * the input folder is walked (inputs.ts walks; this module only matches, so that globs and folders
 * share one policy for links, hidden entries and --out).
 *
 * Syntax, as POSIX shells with bash's globstar and brace expansion:
 * - `*` any characters but '/', `?` one character but '/';
 * - `[abc]`, `[a-z]`, `[!a-z]` or `[^a-z]` one character of (or not of) the set;
 * - `**` as a whole segment: zero or more folders;
 * - `{a,b,c}` alternatives, nested, possibly holding '/' (braces without a comma are literal);
 * - `\` makes the next character literal.
 * Matching is case-sensitive, as the file system is; characters are code points (an emoji is one `?`).
 */
import { AnnotateError } from './errors.js';

/** Patterns one glob may expand to through its braces. */
const MAX_EXPANSIONS = 1024;
const GLOBSTAR = Symbol('**');
type Segment = RegExp | typeof GLOBSTAR;

/** Whether `spec` holds an unescaped `*`, `?`, `[` or `{`. */
export function hasGlobMagic(spec: string): boolean {
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === '\\') i++;
    else if ('*?[{'.includes(spec[i])) return true;
  }
  return false;
}

/**
 * Splits a glob into its fixed leading folders and the pattern below them:
 * `photos/2024/** /*.jpg` -> { base: 'photos/2024', pattern: '** /*.jpg' }; `/data/*.png` ->
 * { base: '/data', pattern: '*.png' }; `*.jpg` -> { base: '', pattern: '*.jpg' }.
 */
export function globBase(spec: string): { base: string; pattern: string } {
  const segments = spec.split('/');
  let fixed = 0;
  while (fixed < segments.length - 1 && !hasGlobMagic(segments[fixed]) && !segments[fixed].includes('\\')) fixed++;
  const base = segments.slice(0, fixed).join('/');
  return { base: base === '' && fixed > 0 ? '/' : base, pattern: segments.slice(fixed).join('/') };
}

/** The index of the `}` closing the `{` at `open`, and the top-level commas between; undefined if unclosed. */
function braceGroup(pattern: string, open: number): { close: number; commas: number[] } | undefined {
  const commas: number[] = [];
  let depth = 0;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return { close: i, commas };
    else if (c === ',' && depth === 1) commas.push(i);
  }
  return undefined;
}

/** Brace expansion, as bash: `a{b,c{d,e}}f` -> abf, acdf, acef. */
export function expandBraces(pattern: string): string[] {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') {
      i++;
      continue;
    }
    if (pattern[i] !== '{') continue;
    const group = braceGroup(pattern, i);
    if (!group || group.commas.length === 0) continue;
    const bounds = [i, ...group.commas, group.close];
    const head = pattern.slice(0, i);
    const tail = pattern.slice(group.close + 1);
    const out: string[] = [];
    for (let a = 0; a + 1 < bounds.length; a++) {
      for (const rest of expandBraces(head + pattern.slice(bounds[a] + 1, bounds[a + 1]) + tail)) {
        out.push(rest);
        if (out.length > MAX_EXPANSIONS) throw new AnnotateError('ANNOTATE_INPUT', `glob '${pattern}' expands to more than ${MAX_EXPANSIONS} patterns`);
      }
    }
    return [...new Set(out)];
  }
  return [pattern];
}

/** `c` literal in a 'u' RegExp, outside a class ('u' refuses needless escapes such as '\\-'). */
function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** `c` literal inside a class of a 'u' RegExp. */
function escapeInClass(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** `[...]` starting at `open` as a RegExp class, and the index after it; undefined when unclosed (a literal '['). */
function charClass(chars: string[], open: number): { source: string; next: number } | undefined {
  let i = open + 1;
  const negate = chars[i] === '!' || chars[i] === '^';
  if (negate) i++;
  const start = i;
  if (chars[i] === ']') i++; // a ']' first is a member
  while (i < chars.length && chars[i] !== ']') i += chars[i] === '\\' ? 2 : 1;
  if (i >= chars.length) return undefined;
  let body = '';
  for (let j = start; j < i; j++) {
    if (chars[j] === '\\') j++;
    const ranged = chars[j] === '-' && j > start && j + 1 < i;
    body += ranged ? '-' : escapeInClass(chars[j]);
  }
  return { source: `[${negate ? '^/' : ''}${body}]`, next: i + 1 };
}

/** One path segment's pattern (no '/', no braces left) as an anchored RegExp. */
function segmentRegExp(segment: string): RegExp {
  const chars = [...segment]; // code points
  let source = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '\\') source += i + 1 < chars.length ? escapeRegExp(chars[++i]) : '\\\\';
    else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const cls = charClass(chars, i);
      if (cls) {
        source += cls.source;
        i = cls.next - 1;
      } else source += '\\[';
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, 'u');
}

function compileOne(pattern: string, glob: string): Segment[] {
  const segments: Segment[] = [];
  const parts = pattern.split('/');
  for (const [i, part] of parts.entries()) {
    // A walk only ever meets names inside the fixed folder: '..' or a leading '/' below it could never match.
    if (part === '..' || (part === '' && i === 0)) {
      throw new AnnotateError('ANNOTATE_INPUT', `glob '${glob}': '..' and absolute paths may only come before the first wildcard or brace`);
    }
    if (part === '' || part === '.') continue;
    const segment = part === '**' ? GLOBSTAR : segmentRegExp(part);
    if (segment === GLOBSTAR && segments[segments.length - 1] === GLOBSTAR) continue; // '**/**' is '**'
    segments.push(segment);
  }
  return segments;
}

/**
 * Whether `path` (segments from `j`) matches `pattern` (from `i`); with `prefix`, whether `path`
 * is a folder that a match can lie below.
 */
function matchFrom(pattern: Segment[], i: number, path: string[], j: number, prefix: boolean): boolean {
  if (j === path.length) return prefix ? i < pattern.length : pattern.slice(i).every((s) => s === GLOBSTAR);
  if (i === pattern.length) return false;
  const segment = pattern[i];
  if (segment === GLOBSTAR) return matchFrom(pattern, i + 1, path, j, prefix) || matchFrom(pattern, i, path, j + 1, prefix);
  return segment.test(path[j]) && matchFrom(pattern, i + 1, path, j + 1, prefix);
}

/** A compiled glob over '/'-separated relative paths. */
export interface Glob {
  /** Whether the file at `path` matches. */
  matches(path: string): boolean;
  /** Whether the folder at `path` can hold a match (so a walk can skip the rest). */
  canHold(path: string): boolean;
}

/** Compiles a glob pattern relative to the folder it is matched in (see the module comment). */
export function compileGlob(pattern: string): Glob {
  const patterns = expandBraces(pattern).map((p) => compileOne(p, pattern)).filter((p) => p.length > 0);
  const test = (path: string, prefix: boolean) => {
    const parts = path.split('/');
    return patterns.some((p) => matchFrom(p, 0, parts, 0, prefix));
  };
  return { matches: (path) => test(path, false), canHold: (path) => test(path, true) };
}
