/**
 * The reason libvips gives for a failed decode, made to depend on the file alone.
 *
 * libvips keeps one error text per process: every thread appends its lines to it and whichever
 * thread fails next reads all of it and clears it. With decodes on several threads (annotate's
 * workers, or a caller's own), a truncated PNG can read 'vipspng: libpng read error\nVipsJpeg:
 * premature end of JPEG image' (another thread's JPEG), 'VipsJpeg: ...' alone (its own line taken
 * by that thread) or 'Unknown error'. Measured with four threads decoding a truncated PNG and JPEG
 * 400 times each: 35 different messages.
 *
 * So a failed decode is tried again alone (decodeLock.ts: no other decode of the threads sharing
 * the lock runs meanwhile), which gives the file's own text exactly; of that text, the lines
 * another format's loader wrote are dropped and repeats folded. When threads outside the lock
 * took even that text, the decode is tried again, after a growing pause, until two attempts give
 * the same reason: a stray line seldom comes twice alike, though another file of the same format
 * failing outside the lock at that moment can lend its line. A file that never gives a reason of
 * its own gets a fixed one.
 */
import { decodeAlone, decodeShared } from './decodeLock.js';

/** A loader's error domain (the text before a line's first ': ') names its format. */
const FORMAT_WORDS: Record<string, RegExp> = {
  jpeg: /jpe?g/i,
  png: /png/i,
  webp: /webp/i,
  tiff: /tiff?/i,
  gif: /gif/i,
  heif: /heif|avif/i,
  svg: /svg/i,
};

/** sharp's own words before libvips's text, e.g. 'Input buffer has corrupt header: '. */
const SHARP_PREFIX = /^(Input (?:buffer|file) [^:]*:)\s*/;

/** The format a file's first bytes declare, or undefined. */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  const at = (offset: number, ...values: number[]) => values.every((v, i) => bytes[offset + i] === v);
  const ascii = (offset: number, text: string) => at(offset, ...[...text].map((c) => c.charCodeAt(0)));
  if (at(0, 0x89, 0x50, 0x4e, 0x47)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (ascii(0, 'GIF8')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'II*\0') || ascii(0, 'MM\0*')) return 'tiff';
  if (ascii(4, 'ftyp')) return 'heif';
  return undefined;
}

function foreign(line: string, format: string | undefined): boolean {
  const domain = /^([A-Za-z0-9_]+):/.exec(line)?.[1];
  if (domain === undefined || format === undefined || !(format in FORMAT_WORDS)) return false;
  if (FORMAT_WORDS[format].test(domain)) return false;
  return Object.values(FORMAT_WORDS).some((word) => word.test(domain));
}

/**
 * The lines of `message` that can be this file's (of a `format` file when known), repeats
 * folded; undefined when none is left ('Unknown error', or only another loader's lines).
 */
export function ownReason(message: string, format: string | undefined): string | undefined {
  const sharpWords = SHARP_PREFIX.exec(message);
  const prefix = sharpWords?.[1];
  const rest = sharpWords ? message.slice(sharpWords[0].length) : message;
  const lines = [...new Set(rest.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^unknown error$/i.test(l) && !foreign(l, format)))];
  if (lines.length === 0) return prefix?.replace(/:$/, '');
  return prefix === undefined ? lines.join('; ') : `${prefix} ${lines.join('; ')}`;
}

/**
 * The most decodes one failing file costs. With six threads failing all the time, a quarter to a
 * half of the attempts read no line of their own; 8 attempts still ended without a reason once in
 * 1200 decodes.
 */
const MAX_ATTEMPTS = 16;

export type Attempt<T> = { ok: true; value: T } | { ok: false; reason: string };

const noReason = (format: string | undefined) => `libvips gave no reason for this ${format === undefined ? 'file' : `${format.toUpperCase()} file`}`;

/**
 * Runs `decode`; after a failure, again as the module comment says, and gives the value or the
 * failure's reason. `final` says which failures end it at once, unchanged (e.g. sharp's
 * 'unsupported image format', which is no libvips text).
 */
export async function steadyDecode<T>(decode: () => Promise<T>, format: string | undefined, final?: (message: string) => boolean): Promise<Attempt<T>> {
  const attempt = (): Promise<Attempt<T>> => decode().then((value) => ({ ok: true as const, value }), (e: Error) => ({ ok: false as const, reason: e.message }));
  const first = await decodeShared(attempt);
  if (first.ok || final?.(first.reason)) return first;
  const alone = await decodeAlone(attempt);
  if (alone.ok) return alone;
  const reason = ownReason(alone.reason, format);
  return reason === undefined ? agreedDecode(attempt, format) : { ok: false, reason };
}

/** Runs `attempt` until it succeeds or two failures give the same {@link ownReason}, at most {@link MAX_ATTEMPTS} times. */
async function agreedDecode<T>(attempt: () => Promise<Attempt<T>>, format: string | undefined): Promise<Attempt<T>> {
  let previous: string | undefined;
  for (let n = 0; n < MAX_ATTEMPTS; n++) {
    const result = await attempt();
    if (result.ok) return result;
    const reason = ownReason(result.reason, format);
    if (reason !== undefined && reason === previous) return { ok: false, reason };
    previous = reason ?? previous;
    // A moment's pause lets the other threads' failures that raced this one finish.
    await new Promise((resolve) => setTimeout(resolve, Math.min(n, 4)));
  }
  return { ok: false, reason: previous ?? noReason(format) };
}
