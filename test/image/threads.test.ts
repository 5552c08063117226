/**
 * A failed decode's message depends on the file, not on what other threads decode at the time.
 * libvips keeps one error text per process, so before src/image/vipsReason.ts a truncated PNG
 * decoded beside a truncated JPEG on another thread read 'vipspng: libpng read error\nVipsJpeg:
 * premature end of JPEG image', 'Unknown error' or the JPEG's line alone (35 different messages
 * over 2 x 400 decodes on 4 threads), and `resdet annotate --jobs 3` wrote a failures list that
 * differed from one job's.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { decodeImage } from '../../src/image/index.js';
import { decodeLockBuffer } from '../../src/image/decodeLock.js';
import { ownReason, sniffFormat } from '../../src/image/vipsReason.js';

const noise = { create: { width: 320, height: 240, channels: 3 as const, background: '#808080', noise: { type: 'gaussian' as const, mean: 128, sigma: 50 } } };

function runWorker(files: string[], rounds: number, decodeLock?: SharedArrayBuffer): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./decodeWorker.js', import.meta.url), { workerData: { files, rounds, decodeLock } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('decode errors on several threads at once', function () {
  this.timeout(120_000);
  let dir: string;
  let files: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'resdet-decode-threads-'));
    const png = await sharp(noise).png().toBuffer();
    const jpeg = await sharp(noise).jpeg().toBuffer();
    const webp = await sharp(noise).webp().toBuffer();
    const bad: [string, Buffer][] = [
      ['truncated.png', png.subarray(0, png.length >> 1)],
      ['truncated.jpg', jpeg.subarray(0, jpeg.length >> 1)],
      ['truncated.webp', webp.subarray(0, webp.length >> 1)],
      ['corrupt-header.png', Buffer.concat([png.subarray(0, 16), Buffer.alloc(64, 0x5a)])],
    ];
    files = bad.map(([name, bytes]) => {
      writeFileSync(join(dir, name), bytes);
      return join(dir, name);
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let alone: Map<string, string>;
  /** Every message 4 threads met, each decoding every file `rounds` times from another file on. */
  async function fourThreads(rounds: number, decodeLock?: SharedArrayBuffer): Promise<Map<string, number>> {
    const results = await Promise.all([0, 1, 2, 3].map((shift) => runWorker([...files.slice(shift), ...files.slice(0, shift)], rounds, decodeLock)));
    const seen = new Map<string, number>();
    for (const result of results) for (const [message, count] of Object.entries(result)) seen.set(message, (seen.get(message) ?? 0) + count);
    return seen;
  }

  it('gives each file its own loader\'s words when decoded alone', async () => {
    alone = new Map();
    for (const file of files) alone.set(file, await decodeImage(file).then(() => 'decoded', (e: Error) => e.message));
    for (const [file, message] of alone) {
      expect(message, file).to.match(/cannot decode|not a readable image/);
      expect(message, file).to.not.match(/unknown error|no reason/i);
    }
    expect(alone.get(files[0])).to.match(/png/i).and.not.match(/jpe?g|webp/i);
    expect(alone.get(files[1])).to.match(/jpe?g/i).and.not.match(/png|webp/i);
    expect(alone.get(files[2])).to.match(/webp/i).and.not.match(/png|jpe?g/i);
  });

  it('gives each file the message it gets alone on 4 threads sharing the decode lock (as annotate\'s threads do)', async () => {
    const rounds = 60;
    const seen = await fourThreads(rounds, decodeLockBuffer());
    expect([...seen.keys()].sort()).to.deep.equal([...alone.values()].sort());
    for (const message of alone.values()) expect(seen.get(message), message).to.equal(4 * rounds);
  });

  it('never names another format\'s loader nor says "Unknown error" on 4 threads that do not share it', async () => {
    const seen = await fourThreads(40);
    for (const message of seen.keys()) {
      const file = files.find((f) => message.startsWith(`${f}: `));
      expect(file, message).to.not.equal(undefined);
      const own = alone.get(file!)!;
      // The stage words and sharp's own words are the file's; libvips's lines are its loader's.
      expect(message.slice(0, message.indexOf('(')), message).to.equal(own.slice(0, own.indexOf('(')));
      expect(message, message).to.not.match(/unknown error/i);
      if (/\.png$/.test(file!)) expect(message).to.not.match(/jpe?g|webp/i);
      if (/\.jpg$/.test(file!)) expect(message).to.not.match(/png|webp/i);
      if (/\.webp$/.test(file!)) expect(message).to.not.match(/png|jpe?g/i);
    }
  });
});

describe('ownReason (the lines of a libvips error text that are this file\'s)', () => {
  it('drops the lines another format\'s loader wrote and folds repeats', () => {
    expect(ownReason('vipspng: libpng read error\nVipsJpeg: premature end of JPEG image\nvipspng: libpng read error', 'png')).to.equal('vipspng: libpng read error');
    expect(ownReason('VipsJpeg: premature end of JPEG image\nvipspng: libpng read error\n', 'jpeg')).to.equal('VipsJpeg: premature end of JPEG image');
    expect(ownReason('tiff2vips: bad strip\nVipsImage: memory area too small', 'tiff')).to.equal('tiff2vips: bad strip; VipsImage: memory area too small');
  });

  it('has no reason for "Unknown error" or another loader\'s lines alone', () => {
    expect(ownReason('Unknown error', 'png')).to.equal(undefined);
    expect(ownReason('VipsJpeg: premature end of JPEG image', 'png')).to.equal(undefined);
    expect(ownReason('', 'jpeg')).to.equal(undefined);
  });

  it('keeps sharp\'s own words before libvips\'s text, without a dangling colon', () => {
    expect(ownReason('Input buffer has corrupt header: VipsJpeg: premature end of JPEG image', 'png')).to.equal('Input buffer has corrupt header');
    expect(ownReason('Input buffer has corrupt header: vipspng: IHDR: CRC error', 'png')).to.equal('Input buffer has corrupt header: vipspng: IHDR: CRC error');
    expect(ownReason('Input buffer has corrupt header:', undefined)).to.equal('Input buffer has corrupt header');
  });

  it('keeps every line when the format is unknown', () => {
    expect(ownReason('VipsJpeg: a\nvipspng: b', undefined)).to.equal('VipsJpeg: a; vipspng: b');
  });

  it('sniffs PNG, JPEG, GIF, WebP, TIFF and HEIF from the first bytes, and nothing from text', () => {
    const bytes = (...values: (number | string)[]) => Uint8Array.from(values.flatMap((v) => (typeof v === 'string' ? [...v].map((c) => c.charCodeAt(0)) : [v])));
    expect(sniffFormat(bytes(0x89, 'PNG\r\n'))).to.equal('png');
    expect(sniffFormat(bytes(0xff, 0xd8, 0xff, 0xe0))).to.equal('jpeg');
    expect(sniffFormat(bytes('GIF89a'))).to.equal('gif');
    expect(sniffFormat(bytes('RIFF', 0, 0, 0, 0, 'WEBPVP8 '))).to.equal('webp');
    expect(sniffFormat(bytes('II*', 0))).to.equal('tiff');
    expect(sniffFormat(bytes(0, 0, 0, 24, 'ftypheic'))).to.equal('heif');
    expect(sniffFormat(bytes('This is not an image'))).to.equal(undefined);
    expect(sniffFormat(bytes())).to.equal(undefined);
  });
});
