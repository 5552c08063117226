/**
 * Label text for previews: the Open Sans bitmap fonts (AngelCode BMFont, XML) that jimp ships,
 * drawn straight into an RGB (or RGBA) buffer. jimp's own `print` validates its arguments with zod for
 * every glyph and needs jimp itself loaded (135 ms per thread here) with its PNG decoder (75 ms
 * for the 8 px font): in `resdet annotate --previews` that was a fifth of the run. Here a font is
 * its page(s) decoded once (sharp, else jimp) and a glyph table; a label costs microseconds.
 *
 * Blending and layout follow jimp's `print` and `measureText` (the same pixels on ASCII labels,
 * checked in the tests): each glyph's page pixels are composited source-over at
 * (x + xoffset, y + yoffset), then the pen advances by xadvance plus the pair's kerning. A
 * character the font lacks is drawn as '?', or as a blank of the font's first advance when it is
 * whitespace; unlike jimp's measureText (which skips such characters) the width counts them too,
 * so a label's tab always fits its text.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ResdetError } from '../../postprocess/errors.js';
import { loadSharp } from '../image/sharp.js';

export class FontError extends ResdetError {
  constructor(file: string, problem: string) {
    super('PREVIEW_FONT', `${file}: ${problem}`);
  }
}

interface Glyph {
  x: number; y: number; width: number; height: number;
  xoffset: number; yoffset: number; xadvance: number; page: number;
}

interface Page {
  rgba: Uint8Array;
  width: number;
  height: number;
}

export interface BitmapFont {
  /** Pixels between lines (BMFont `lineHeight`). */
  lineHeight: number;
  glyphs: Map<number, Glyph>;
  /** Kerning amounts by `first * 65536 + second` code point. */
  kernings: Map<number, number>;
  pages: Page[];
  /** The advance of a whitespace character the font lacks. */
  blankAdvance: number;
}

/** The attributes of every `<tag .../>` in a BMFont XML file, as numbers or strings. */
function tags(xml: string, tag: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const m of xml.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1].matchAll(/([A-Za-z]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    out.push(attrs);
  }
  return out;
}

function int(attrs: Record<string, string>, name: string, file: string): number {
  const v = Number(attrs[name]);
  if (!Number.isInteger(v)) throw new FontError(file, `<${name}="${attrs[name]}"> is not an integer`);
  return v;
}

async function decodePage(path: string): Promise<Page> {
  const sharp = await loadSharp();
  if (sharp) {
    const { data, info } = await sharp(path).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  }
  const { Jimp } = await import('jimp');
  const image = await Jimp.read(path);
  const { data, width, height } = image.bitmap;
  return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}

/** Reads a BMFont XML file and decodes its pages (found beside it). */
export async function loadBitmapFont(file: string): Promise<BitmapFont> {
  const xml = readFileSync(file, 'utf8');
  const common = tags(xml, 'common')[0];
  if (!common) throw new FontError(file, 'not a BMFont XML file (no <common> element)');
  const pageFiles = tags(xml, 'page').map((p) => ({ id: int(p, 'id', file), file: p.file }));
  const pages = await Promise.all(pageFiles.sort((a, b) => a.id - b.id).map((p) => decodePage(join(dirname(file), p.file)).catch((e: Error) => {
    throw new FontError(file, `its page ${p.file} cannot be read (${e.message})`);
  })));
  const glyphs = new Map<number, Glyph>();
  for (const c of tags(xml, 'char')) {
    const glyph: Glyph = {
      x: int(c, 'x', file), y: int(c, 'y', file), width: int(c, 'width', file), height: int(c, 'height', file),
      xoffset: int(c, 'xoffset', file), yoffset: int(c, 'yoffset', file), xadvance: int(c, 'xadvance', file), page: int(c, 'page', file),
    };
    const page = pages[glyph.page];
    if (!page || glyph.x < 0 || glyph.y < 0 || glyph.x + glyph.width > page.width || glyph.y + glyph.height > page.height) {
      throw new FontError(file, `character ${c.id} lies outside its page`);
    }
    glyphs.set(int(c, 'id', file), glyph);
  }
  const kernings = new Map<number, number>();
  for (const k of tags(xml, 'kerning')) kernings.set(int(k, 'first', file) * 65536 + int(k, 'second', file), int(k, 'amount', file));
  const blankAdvance = [...glyphs.values()].find((g) => g.xadvance)?.xadvance ?? 0;
  return { lineHeight: int(common, 'lineHeight', file), glyphs, kernings, pages, blankAdvance };
}

const QUESTION = '?'.codePointAt(0)!;

/** The glyph drawn for a code point (null: a blank), as jimp's print picks it. */
function glyphFor(font: BitmapFont, code: number): Glyph | null {
  const g = font.glyphs.get(code);
  if (g) return g;
  return /\s/.test(String.fromCodePoint(code)) ? null : font.glyphs.get(QUESTION) ?? null;
}

/** Lays `text` out from pen position 0, calling `place` for each glyph; returns the width. */
function layout(font: BitmapFont, text: string, place?: (g: Glyph, penX: number) => void): number {
  const codes = Array.from(text, (ch) => ch.codePointAt(0)!);
  let x = 0;
  for (let i = 0; i < codes.length; i++) {
    const g = glyphFor(font, codes[i]);
    if (g && place) place(g, x);
    const kerning = i + 1 < codes.length ? font.kernings.get(codes[i] * 65536 + codes[i + 1]) ?? 0 : 0;
    x += kerning + (g ? g.xadvance || font.blankAdvance : font.blankAdvance);
  }
  return x;
}

/** The width `text` takes in pixels. */
export function measureLabel(font: BitmapFont, text: string): number {
  return layout(font, text);
}

/**
 * Draws `text` with its pen starting at (x, y) into 8-bit pixels [height, width, channels]: RGB,
 * or RGBA whose alpha is raised by the glyph's as jimp's blit does.
 */
export function drawLabel(pixels: Uint8Array, width: number, height: number, channels: 3 | 4, font: BitmapFont, x: number, y: number, text: string): void {
  layout(font, text, (g, penX) => {
    const page = font.pages[g.page];
    const dx = Math.round(x + penX + g.xoffset), dy = Math.round(y + g.yoffset);
    for (let r = Math.max(0, -dy); r < g.height && dy + r < height; r++) {
      for (let c = Math.max(0, -dx); c < g.width && dx + c < width; c++) {
        const s = 4 * ((g.y + r) * page.width + g.x + c);
        const a = page.rgba[s + 3];
        if (a === 0) continue;
        const d = channels * ((dy + r) * width + dx + c);
        // jimp's blit, integer for integer: ((a (s - d) - d + 255) >> 8) + d.
        for (let k = 0; k < 3; k++) pixels[d + k] = ((a * (page.rgba[s + k] - pixels[d + k]) - pixels[d + k] + 255) >> 8) + pixels[d + k];
        if (channels === 4) pixels[d + 3] = Math.min(255, pixels[d + 3] + a);
      }
    }
  });
}
