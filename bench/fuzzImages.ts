/**
 * Image formats for `npm run fuzz`: PNG chunks rewritten with valid CRCs (so a mutated IHDR
 * reaches the decoder instead of failing libpng's CRC check), JPEG segments (SOF dimensions,
 * tables, scan headers, EXIF orientation), a BMP seed (sharp hands BMP to jimp, which decodes
 * before the pixel limit is checked), and decompression bombs near the pixel limit.
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { concatAll } from './fuzzArchives.js';
import { type Mutated, type Rng, interestingUnsigned, mutateBytes, pick, randInt, weighted } from './fuzzMutations.js';

const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface PngChunk { type: string; data: Uint8Array }

function readPng(bytes: Uint8Array): PngChunk[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  for (let p = 8; p + 12 <= bytes.length;) {
    const n = dv.getUint32(p);
    chunks.push({ type: String.fromCharCode(...bytes.subarray(p + 4, p + 8)), data: bytes.subarray(p + 8, p + 8 + n) });
    p += 12 + n;
  }
  return chunks;
}

function writePng(chunks: readonly PngChunk[]): Uint8Array {
  const parts: Uint8Array[] = [PNG_SIGNATURE];
  for (const c of chunks) {
    const head = new Uint8Array(8);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, c.data.length);
    for (let i = 0; i < 4; i++) head[4 + i] = c.type.charCodeAt(i);
    const tail = new Uint8Array(4);
    new DataView(tail.buffer).setUint32(0, crc32(c.data, crc32(head.subarray(4))) >>> 0);
    parts.push(head, c.data, tail);
  }
  return concatAll(parts);
}

/** A minimal little-endian EXIF (TIFF) block with one Orientation entry, optionally malformed. */
export function exifBlock(rng: Rng): Uint8Array {
  const orientation = pick(rng, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 65535]);
  const b = new Uint8Array(26);
  const dv = new DataView(b.buffer);
  b.set([0x49, 0x49, 0x2a, 0x00]);
  dv.setUint32(4, 8, true); // IFD offset
  dv.setUint16(8, 1, true); // one entry
  dv.setUint16(10, 0x0112, true); dv.setUint16(12, 3, true); dv.setUint32(14, 1, true); dv.setUint16(18, orientation, true);
  dv.setUint32(22, 0, true);
  const broken = weighted(rng, [[4, 'none'], [1, 'ifdOffset'], [1, 'count'], [1, 'type'], [1, 'valueCount']] as const);
  if (broken === 'ifdOffset') dv.setUint32(4, Number(interestingUnsigned(rng, 4)), true);
  if (broken === 'count') dv.setUint16(8, Number(interestingUnsigned(rng, 2)), true);
  if (broken === 'type') dv.setUint16(12, pick(rng, [0, 4, 5, 7, 12, 13, 255]), true);
  if (broken === 'valueCount') dv.setUint32(14, Number(interestingUnsigned(rng, 4)), true);
  return b;
}

function ihdrMutation(rng: Rng, ihdr: Uint8Array): { data: Uint8Array; what: string } {
  const out = Uint8Array.from(ihdr);
  const dv = new DataView(out.buffer);
  const field = weighted(rng, [[4, 'width'], [4, 'height'], [2, 'both'], [1, 'bitDepth'], [1, 'colorType'], [1, 'method'], [1, 'interlace']] as const);
  if (field === 'width' || field === 'height' || field === 'both') {
    const dims = () => Number(pick(rng, [0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 10000n, 65535n, 65536n, 100000n, 1000000n, interestingUnsigned(rng, 4)]));
    const w = field === 'height' ? dv.getUint32(0) : dims();
    const h = field === 'width' ? dv.getUint32(4) : dims();
    dv.setUint32(0, w >>> 0); dv.setUint32(4, h >>> 0);
    return { data: out, what: `IHDR ${w >>> 0}x${h >>> 0}` };
  }
  const at = { bitDepth: 8, colorType: 9, method: pick(rng, [10, 11]), interlace: 12 }[field];
  out[at] = pick(rng, [0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 255]);
  return { data: out, what: `IHDR ${field}=${out[at]}` };
}

/** Compressed zero scanlines by size: deflating 300 MB takes a second, and the sizes repeat. */
const bombCache = new Map<string, Uint8Array>();

/**
 * A valid PNG of w x h RGB zeros: its IDAT is small however large the image, so a decoder that
 * trusts the header allocates w*h*3 bytes from a few hundred kilobytes of file.
 */
export function pngBomb(rng: Rng): Mutated {
  const [w, h] = pick(rng, [[10000, 10000], [20000, 5000], [100000, 1000], [1, 100_000_000], [10001, 10000], [12000, 8000], [46341, 46341], [3000, 3000]]);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w); dv.setUint32(4, h); ihdr[8] = 8; ihdr[9] = 2;
  // Rows of zeros (filter byte 0 included) compress ~1000:1; cap the work for the header-only cases.
  const rawBytes = Math.min(h * (1 + 3 * w), 310_000_000);
  const key = `${w}x${h}`;
  let idat = bombCache.get(key);
  if (!idat) { idat = deflateSync(new Uint8Array(rawBytes), { level: 9 }); bombCache.set(key, idat); }
  return { bytes: writePng([{ type: 'IHDR', data: ihdr }, { type: 'IDAT', data: idat }, { type: 'IEND', data: new Uint8Array() }]), what: `png bomb ${w}x${h} (${rawBytes} raw bytes)` };
}

/** PNG mutations with CRCs fixed up, or raw bytes (CRC broken) now and then. */
export function mutatePng(rng: Rng, seed: Uint8Array): Mutated {
  const chunks = readPng(seed).map((c) => ({ ...c }));
  const kind = weighted(rng, [[6, 'ihdr'], [3, 'chunkData'], [3, 'idat'], [3, 'structure'], [2, 'insert'], [1, 'bomb'], [2, 'raw'], [1, 'truncate']] as const);
  if (kind === 'ihdr') {
    const m = ihdrMutation(rng, chunks[0].data);
    chunks[0].data = m.data;
    return { bytes: writePng(chunks), what: `png ${m.what}` };
  }
  if (kind === 'chunkData') {
    const i = randInt(rng, 0, chunks.length);
    if (!chunks[i].data.length) return { bytes: writePng(chunks.filter((_, j) => j !== i)), what: `png drop ${chunks[i].type}` };
    const m = mutateBytes(rng, chunks[i].data);
    chunks[i].data = m.bytes;
    return { bytes: writePng(chunks), what: `png ${chunks[i].type} data: ${m.what}` };
  }
  if (kind === 'idat') {
    // Inflate all IDATs, mutate the filtered scanlines (filter bytes, lengths), deflate again.
    const idat = concatAll(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
    const raw = inflateSync(idat);
    const m = rng() < 0.4 ? { bytes: raw.subarray(0, randInt(rng, 0, raw.length)), what: 'truncated' }
      : rng() < 0.3 ? { bytes: concatAll([raw, new Uint8Array(randInt(rng, 1, 100000))]), what: 'extended' }
        : mutateBytes(rng, raw);
    const rest = chunks.filter((c) => c.type !== 'IDAT');
    const split = rng() < 0.3 ? 1 : randInt(rng, 1, 64);
    const z = deflateSync(m.bytes);
    const parts: PngChunk[] = [];
    for (let i = 0; i < split; i++) parts.push({ type: 'IDAT', data: z.subarray(Math.floor((i * z.length) / split), Math.floor(((i + 1) * z.length) / split)) });
    rest.splice(rest.length - 1, 0, ...parts);
    return { bytes: writePng(rest), what: `png inflated IDAT ${m.what}` };
  }
  if (kind === 'structure') {
    const op = pick(rng, ['dropIHDR', 'dropIDAT', 'dropIEND', 'dupIHDR', 'iendFirst', 'reverse', 'dupIDAT'] as const);
    let out = chunks;
    if (op === 'dropIHDR') out = chunks.slice(1);
    else if (op === 'dropIDAT') out = chunks.filter((c) => c.type !== 'IDAT');
    else if (op === 'dropIEND') out = chunks.filter((c) => c.type !== 'IEND');
    else if (op === 'dupIHDR') out = [chunks[0], ...chunks];
    else if (op === 'iendFirst') out = [chunks[0], { type: 'IEND', data: new Uint8Array() }, ...chunks.slice(1)];
    else if (op === 'reverse') out = [...chunks].reverse();
    else out = [...chunks.slice(0, -1), ...chunks.filter((c) => c.type === 'IDAT'), chunks[chunks.length - 1]];
    return { bytes: writePng(out), what: `png ${op}` };
  }
  if (kind === 'insert') {
    const add = weighted<() => PngChunk>(rng, [
      [3, () => ({ type: 'eXIf', data: exifBlock(rng) })],
      [1, () => ({ type: 'PLTE', data: new Uint8Array(pick(rng, [0, 3, 768, 771, 3000])).map(() => randInt(rng, 0, 256)) })],
      [1, () => ({ type: 'tRNS', data: new Uint8Array(pick(rng, [0, 1, 6, 300])) })],
      [1, () => ({ type: 'gAMA', data: new Uint8Array(4) })],
      [1, () => ({ type: 'iCCP', data: concatAll([new TextEncoder().encode('icc\0\0'), deflateSync(new Uint8Array(pick(rng, [10, 100000, 10_000_000])))]) })],
      [1, () => ({ type: 'zTXt', data: concatAll([new TextEncoder().encode('Comment\0\0'), deflateSync(new Uint8Array(50_000_000))]) })],
      [1, () => ({ type: 'tEXt', data: new Uint8Array(1_000_000).fill(0x41) })],
      [1, () => ({ type: 'abCD', data: new Uint8Array(16) })],
      [1, () => ({ type: 'acTL', data: new Uint8Array([0, 0, 0, 2, 0, 0, 0, 0]) })],
    ])();
    // Ancillary chunks belong before the first IDAT; anywhere else is a second test.
    const at = rng() < 0.6 ? 1 : randInt(rng, 1, chunks.length);
    chunks.splice(at, 0, add);
    return { bytes: writePng(chunks), what: `png insert ${add.type}@${at}` };
  }
  if (kind === 'bomb') return pngBomb(rng);
  if (kind === 'truncate') {
    const p = randInt(rng, 8, seed.length);
    return { bytes: seed.slice(0, p), what: `png truncate@${p}` };
  }
  const m = mutateBytes(rng, seed);
  return { bytes: m.bytes, what: `png raw: ${m.what}` };
}

// ---------------------------------------------------------------------------------------------
// JPEG

interface JpegSegment { marker: number; data: Uint8Array }

/** Markers with no length field. */
const standalone = (m: number) => m === 0xd8 || m === 0xd9 || m === 0x01 || (m >= 0xd0 && m <= 0xd7);

/** Segments in order; a scan's entropy-coded data is a segment of marker 0 after its SOS. */
function readJpeg(bytes: Uint8Array): JpegSegment[] {
  const segs: JpegSegment[] = [];
  for (let p = 0; p + 1 < bytes.length;) {
    if (bytes[p] !== 0xff) throw new Error(`seed JPEG: no marker at ${p}`);
    const marker = bytes[p + 1];
    if (standalone(marker)) { segs.push({ marker, data: new Uint8Array() }); p += 2; if (marker === 0xd9) break; continue; }
    const n = (bytes[p + 2] << 8) | bytes[p + 3];
    segs.push({ marker, data: bytes.subarray(p + 4, p + 2 + n) });
    p += 2 + n;
    if (marker === 0xda) {
      let q = p;
      while (q + 1 < bytes.length && !(bytes[q] === 0xff && bytes[q + 1] !== 0 && !(bytes[q + 1] >= 0xd0 && bytes[q + 1] <= 0xd7))) q++;
      segs.push({ marker: 0, data: bytes.subarray(p, q) });
      p = q;
    }
  }
  return segs;
}

function writeJpeg(segs: readonly JpegSegment[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of segs) {
    if (s.marker === 0) parts.push(s.data);
    else if (standalone(s.marker)) parts.push(new Uint8Array([0xff, s.marker]));
    else {
      const n = s.data.length + 2;
      parts.push(new Uint8Array([0xff, s.marker, (n >> 8) & 0xff, n & 0xff]), s.data);
    }
  }
  return concatAll(parts);
}

function app1Exif(rng: Rng): JpegSegment {
  return { marker: 0xe1, data: concatAll([new TextEncoder().encode('Exif\0\0'), exifBlock(rng)]) };
}

/** JPEG mutations by segment: SOF fields, tables, scan headers, EXIF, structure, lengths, raw bytes. */
export function mutateJpeg(rng: Rng, seed: Uint8Array): Mutated {
  const segs = readJpeg(seed).map((s) => ({ ...s }));
  const kind = weighted(rng, [[6, 'sof'], [2, 'dqt'], [2, 'dht'], [2, 'sos'], [2, 'exif'], [1, 'dri'], [2, 'structure'], [2, 'length'], [2, 'scan'], [2, 'raw']] as const);
  const find = (pred: (m: number) => boolean) => segs.findIndex((s) => pred(s.marker));
  const sof = find((m) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc);
  const fieldEdit = (i: number, label: string, edit: (d: Uint8Array, dv: DataView) => string): Mutated => {
    if (i < 0) return { bytes: mutateBytes(rng, seed).bytes, what: `jpeg raw (no ${label})` };
    const d = Uint8Array.from(segs[i].data);
    const what = edit(d, new DataView(d.buffer));
    segs[i].data = d;
    return { bytes: writeJpeg(segs), what: `jpeg ${label} ${what}` };
  };
  if (kind === 'sof') {
    return fieldEdit(sof, 'SOF', (d, dv) => {
      const f = weighted(rng, [[4, 'height'], [4, 'width'], [2, 'both'], [1, 'precision'], [1, 'components'], [2, 'sampling'], [1, 'quantTable'], [1, 'marker']] as const);
      if (f === 'both') {
        // Dimensions near the 100 MP default limit with the original (far too short) scan data.
        const [w, h] = pick(rng, [[10000, 10000], [10000, 9999], [65535, 1525], [1525, 65535], [12000, 8333]]);
        dv.setUint16(1, h); dv.setUint16(3, w);
        return `${w}x${h}`;
      }
      if (f === 'height' || f === 'width') { const v = Number(pick(rng, [0n, 1n, 0xffffn, 0x8000n, 0x7fffn, 10000n, interestingUnsigned(rng, 2)])); dv.setUint16(f === 'height' ? 1 : 3, v); return `${f}=${v}`; }
      if (f === 'precision') { d[0] = pick(rng, [0, 1, 12, 16, 255]); return `precision=${d[0]}`; }
      if (f === 'components') { d[5] = pick(rng, [0, 1, 2, 4, 255]); return `components=${d[5]}`; }
      const c = randInt(rng, 0, Math.max(1, d[5]));
      if (f === 'sampling') { d[7 + 3 * c] = pick(rng, [0x00, 0x11, 0x12, 0x21, 0x22, 0x44, 0x41, 0x14, 0xff, 0x55]); return `sampling[${c}]=0x${d[7 + 3 * c].toString(16)}`; }
      if (f === 'quantTable') { d[8 + 3 * c] = pick(rng, [1, 2, 3, 4, 255]); return `tq[${c}]=${d[8 + 3 * c]}`; }
      segs[sof].marker = pick(rng, [0xc1, 0xc2, 0xc3, 0xc5, 0xc9, 0xcb, 0xcf]);
      return `marker=0x${segs[sof].marker.toString(16)}`;
    });
  }
  if (kind === 'dqt') return fieldEdit(find((m) => m === 0xdb), 'DQT', (d) => {
    const how = pick(rng, ['zero', 'id', 'precision', 'max'] as const);
    if (how === 'zero') d.fill(0, 1); else if (how === 'max') d.fill(255, 1); else if (how === 'id') d[0] = (d[0] & 0xf0) | pick(rng, [4, 7, 15]); else d[0] |= 0x10;
    return how;
  });
  if (kind === 'dht') return fieldEdit(find((m) => m === 0xc4), 'DHT', (d) => {
    const i = randInt(rng, 1, 17);
    d[i] = pick(rng, [0, 255, 16, 17]);
    if (rng() < 0.3) d[0] = pick(rng, [0x04, 0x14, 0xff]);
    return `count[${i}]=${d[i]} class/id=0x${d[0].toString(16)}`;
  });
  if (kind === 'sos') return fieldEdit(find((m) => m === 0xda), 'SOS', (d) => {
    const at = pick(rng, [0, 1, 2, d.length - 3, d.length - 2, d.length - 1]);
    d[at] = pick(rng, [0, 1, 4, 63, 64, 0x0f, 0xf0, 0xff]);
    return `byte${at}=${d[at]}`;
  });
  if (kind === 'exif') {
    const i = find((m) => m === 0xe1);
    if (i >= 0 && rng() < 0.7) segs[i] = app1Exif(rng); else segs.splice(1, 0, app1Exif(rng));
    return { bytes: writeJpeg(segs), what: `jpeg EXIF ${[...segs[i >= 0 ? i : 1].data.subarray(6)].map((b) => b.toString(16)).join('')}` };
  }
  if (kind === 'dri') {
    const v = pick(rng, [0, 1, 2, 0xffff]);
    segs.splice(Math.max(1, sof), 0, { marker: 0xdd, data: new Uint8Array([v >> 8, v & 0xff]) });
    return { bytes: writeJpeg(segs), what: `jpeg DRI ${v}` };
  }
  if (kind === 'structure') {
    const op = pick(rng, ['dropSOF', 'dupSOF', 'dropEOI', 'dropDHT', 'dropDQT', 'dupSOS', 'secondSOI', 'reverse'] as const);
    let out = segs;
    if (op === 'dropSOF') out = segs.filter((_, i) => i !== sof);
    else if (op === 'dupSOF') out = [...segs.slice(0, sof), segs[sof], ...segs.slice(sof)];
    else if (op === 'dropEOI') out = segs.filter((s) => s.marker !== 0xd9);
    else if (op === 'dropDHT') out = segs.filter((s) => s.marker !== 0xc4);
    else if (op === 'dropDQT') out = segs.filter((s) => s.marker !== 0xdb);
    else if (op === 'dupSOS') { const i = find((m) => m === 0xda); out = [...segs.slice(0, i + 2), ...segs.slice(i, i + 2), ...segs.slice(i + 2)]; }
    else if (op === 'secondSOI') out = [segs[0], ...segs];
    else out = [segs[0], ...segs.slice(1, -1).reverse(), segs[segs.length - 1]];
    return { bytes: writeJpeg(out), what: `jpeg ${op}` };
  }
  if (kind === 'length') {
    // A segment's length field overwritten in the written file: parsers read past or short.
    const i = randInt(rng, 1, segs.length);
    const withLen = segs.slice(0, i).reduce((s, x) => s + (x.marker === 0 ? x.data.length : standalone(x.marker) ? 2 : 4 + x.data.length), 0);
    if (segs[i].marker === 0 || standalone(segs[i].marker)) return { bytes: mutateBytes(rng, seed).bytes, what: 'jpeg raw' };
    const out = writeJpeg(segs);
    const v = Number(interestingUnsigned(rng, 2, segs[i].data.length + 2, out.length));
    out[withLen + 2] = v >> 8; out[withLen + 3] = v & 0xff;
    return { bytes: out, what: `jpeg length of 0x${segs[i].marker.toString(16)}=${v}` };
  }
  if (kind === 'scan') {
    const i = segs.findIndex((s) => s.marker === 0);
    const how = pick(rng, ['truncate', 'bytes', 'zero'] as const);
    const d = segs[i].data;
    segs[i].data = how === 'truncate' ? d.subarray(0, randInt(rng, 0, d.length)) : how === 'zero' ? new Uint8Array(d.length) : mutateBytes(rng, d).bytes;
    return { bytes: writeJpeg(segs), what: `jpeg scan ${how}` };
  }
  const m = mutateBytes(rng, seed);
  return { bytes: m.bytes, what: `jpeg raw: ${m.what}` };
}

// ---------------------------------------------------------------------------------------------
// BMP (decoded by jimp, since libvips has no BMP loader)

/** A 24-bit bottom-up BMP of the RGB pixels. */
export function writeBmp(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const row = Math.ceil((width * 3) / 4) * 4;
  const out = new Uint8Array(54 + row * height);
  const dv = new DataView(out.buffer);
  out[0] = 0x42; out[1] = 0x4d;
  dv.setUint32(2, out.length, true); dv.setUint32(10, 54, true); dv.setUint32(14, 40, true);
  dv.setInt32(18, width, true); dv.setInt32(22, height, true); dv.setUint16(26, 1, true); dv.setUint16(28, 24, true);
  dv.setUint32(34, row * height, true);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = 54 + (height - 1 - y) * row + x * 3;
      out[d] = rgb[s + 2]; out[d + 1] = rgb[s + 1]; out[d + 2] = rgb[s];
    }
  }
  return out;
}

/** BMP header fields (size, offsets, dimensions, depth, compression) with interesting values, or raw bytes. */
export function mutateBmp(rng: Rng, seed: Uint8Array): Mutated {
  if (rng() < 0.7) {
    const [label, at, width] = pick(rng, [['fileSize', 2, 4], ['dataOffset', 10, 4], ['headerSize', 14, 4], ['width', 18, 4], ['height', 22, 4],
      ['width', 18, 4], ['height', 22, 4], ['planes', 26, 2], ['bitCount', 28, 2], ['compression', 30, 4], ['imageSize', 34, 4], ['colorsUsed', 46, 4]] as const);
    const out = Uint8Array.from(seed);
    const v = label === 'bitCount' ? BigInt(pick(rng, [0, 1, 4, 8, 16, 32, 64, 0xffff])) : interestingUnsigned(rng, width, 0, seed.length);
    for (let b = 0; b < width; b++) out[at + b] = Number((v >> BigInt(8 * b)) & 0xffn);
    return { bytes: out, what: `bmp ${label}=${v}` };
  }
  const m = mutateBytes(rng, seed);
  return { bytes: m.bytes, what: `bmp raw: ${m.what}` };
}

// ---------------------------------------------------------------------------------------------
// GIF (libnsgif allocates the logical screen before it reads a frame)

/** GIF logical screen and first-frame dimensions with interesting values, or raw bytes. */
export function mutateGif(rng: Rng, seed: Uint8Array): Mutated {
  const out = Uint8Array.from(seed);
  const dv = new DataView(out.buffer);
  const kind = weighted(rng, [[3, 'screen'], [2, 'frame'], [2, 'raw']] as const);
  if (kind === 'raw') { const m = mutateBytes(rng, seed); return { bytes: m.bytes, what: `gif raw: ${m.what}` }; }
  const [w, h] = pick(rng, [[10000, 10000], [65535, 1525], [65535, 65535], [0, 0], [1, 1], [256, 65535], [9999, 10000]]);
  if (kind === 'screen') { dv.setUint16(6, w, true); dv.setUint16(8, h, true); return { bytes: out, what: `gif screen ${w}x${h}` }; }
  // The first image descriptor (0x2c) after the header, colour table and extensions.
  const at = out.indexOf(0x2c, 13);
  if (at < 0) return { bytes: out, what: 'gif (no image descriptor)' };
  dv.setUint16(at + 5, w, true); dv.setUint16(at + 7, h, true);
  return { bytes: out, what: `gif frame@${at} ${w}x${h}` };
}
