import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnnotateError } from '../../src/annotate/errors.js';
import { canonicalJson, inputDigest, manifestIdentity, runFingerprint } from '../../src/annotate/identity.js';
import {
  encodeRecord, JOURNAL_FILE, LOCK_FILE, type NewJournalHeader, openJournal, readJournal,
} from '../../src/annotate/journal.js';
import type { ImageRecord } from '../../src/annotate/types.js';
import { repoRoot } from '../helpers/reference.js';

const model = { manifestSha256: 'a'.repeat(64), files: [{ role: 'backbone', path: 'backbone.onnx', bytes: 1000 }] };

function header(options: Record<string, unknown> = { score: 0.5, classes: null }, extra: Partial<NewJournalHeader> = {}): NewJournalHeader {
  return {
    fingerprint: runFingerprint({ model: extra.model ?? model, options }),
    inputDigest: 'd'.repeat(64),
    inputCount: 10,
    shard: { k: 1, n: 1 },
    model,
    options,
    categories: [{ id: 1, name: 'circle', supercategory: 'object' }],
    ...extra,
  };
}

function done(index: number, fileName = `img${index}.jpg`): ImageRecord {
  return {
    kind: 'done', index, id: index + 1, fileName, bytes: 100 + index, width: 64, height: 48,
    objects: [{ bbox: [1, 2, 3, 4], score: 0.9, categoryId: 1, area: 12, rle: { size: [48, 64], counts: 'abc' } }],
  };
}


/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('annotate journal: append-only, self-checking, recovers from kill -9', () => {
  let out: string;
  let path: string;
  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), 'resdet-journal-'));
    path = join(out, JOURNAL_FILE);
  });
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  async function write(records: ImageRecord[], h = header()): Promise<void> {
    const journal = await openJournal(path, h);
    for (const r of records) journal.append(r);
    await journal.close();
  }

  it('reopens with every appended record, the last record of a fileName winning', async () => {
    await write([done(0), done(1), { kind: 'failed', index: 2, id: 3, fileName: 'img2.jpg', bytes: -1, code: 'IMAGE_DECODE', error: 'img2.jpg: truncated' }]);
    await write([done(2)]);
    const journal = await openJournal(path, header());
    expect([...journal.records.keys()]).to.deep.equal(['img0.jpg', 'img1.jpg', 'img2.jpg']);
    expect(journal.records.get('img2.jpg')).to.deep.equal(done(2));
    expect(journal.recovered).to.deep.equal({ corruptRecords: 0, discardedBytes: 0 });
    expect(journal.header.options).to.deep.equal({ score: 0.5, classes: null });
    await journal.close();
    expect(existsSync(join(out, LOCK_FILE))).to.equal(false);
  });

  it('discards a torn last record cut at every byte offset, truncating the file to the last good record', async () => {
    await write([done(0), done(1), done(2)]);
    const whole = readFileSync(path);
    const lastStart = whole.lastIndexOf(0x0a, whole.length - 2) + 1;
    for (let cut = lastStart; cut < whole.length; cut++) {
      writeFileSync(path, whole.subarray(0, cut));
      const journal = await openJournal(path, header());
      expect([...journal.records.keys()], `cut at ${cut}`).to.deep.equal(['img0.jpg', 'img1.jpg']);
      expect(journal.recovered.discardedBytes).to.equal(cut - lastStart);
      await journal.close();
      expect(statSync(path).size).to.equal(lastStart);
    }
    const journal = await openJournal(path, header());
    journal.append(done(2));
    await journal.close();
    expect(readFileSync(path).equals(whole)).to.equal(true);
  });

  it('discards a torn header (killed during the first write) and starts the journal afresh', async () => {
    writeFileSync(path, encodeRecord({ kind: 'header', ...header() }).subarray(0, 30));
    const journal = await openJournal(path, header());
    expect(journal.records.size).to.equal(0);
    journal.append(done(0));
    await journal.close();
    expect([...readJournal(path).records.keys()]).to.deep.equal(['img0.jpg']);
  });

  it('skips a middle record with a flipped byte, counting it, and keeps every later record', async () => {
    await write([done(0), done(1), done(2), done(3)]);
    const bytes = readFileSync(path);
    const lines = bytes.toString('latin1').split('\n');
    const offset = lines[0].length + 1 + lines[1].length + 1 + 40; // inside img1's record
    bytes[offset] ^= 0x04;
    writeFileSync(path, bytes);
    const journal = await openJournal(path, header());
    expect([...journal.records.keys()]).to.deep.equal(['img0.jpg', 'img2.jpg', 'img3.jpg']);
    expect(journal.recovered.corruptRecords).to.equal(1);
    await journal.close();
    expect(statSync(path).size).to.equal(bytes.length);
  });

  it('treats a record line over 64 MiB as corrupt without holding it, and reads on', async () => {
    await write([done(0)]);
    const big = Buffer.alloc(65 * 1024 * 1024, 0x61);
    appendFileSync(path, big);
    appendFileSync(path, '\n');
    appendFileSync(path, encodeRecord(done(1)));
    const journal = await openJournal(path, header());
    expect([...journal.records.keys()]).to.deep.equal(['img0.jpg', 'img1.jpg']);
    expect(journal.recovered.corruptRecords).to.equal(1);
    await journal.close();
  });

  it('refuses a journal of other options, naming the options that differ and what to do', async () => {
    await write([done(0)]);
    const e = await openJournal(path, header({ score: 0.3, classes: null })).then(() => undefined, (err: unknown) => err);
    expect(e).to.be.instanceOf(AnnotateError);
    expect((e as AnnotateError).code).to.equal('ANNOTATE_MISMATCH');
    expect((e as Error).message).to.match(/was made with other options \(score 0\.5 -> 0\.3\); rerun with --restart .* or pick another --out/);
    expect((e as Error).message).to.not.include('classes');
    expect(existsSync(join(out, LOCK_FILE))).to.equal(false);
  });

  it('refuses a journal of another model, or of another shard', async () => {
    await write([done(0)]);
    const other = { ...model, manifestSha256: 'b'.repeat(64) };
    const h = header(undefined, { model: other });
    await openJournal(path, { ...h, model: other }).then(() => expect.fail('opened'), (e: Error) => expect(e.message).to.match(/was made with another model \(resdet\.json differs\)/));
    await openJournal(path, header(undefined, { shard: { k: 2, n: 3 } })).then(() => expect.fail('opened'), (e: Error) => expect(e.message).to.match(/holds shard 1\/1, not 2\/3/));
  });

  it('with restart, moves the old journal aside (never deleted) and starts empty', async () => {
    await write([done(0)]);
    const before = readFileSync(path);
    const journal = await openJournal(path, header({ score: 0.3 }), { restart: true });
    expect(journal.records.size).to.equal(0);
    expect(journal.recovered.movedAside).to.match(/annotate\.journal\.old-\d{8}T\d{6}Z$/);
    await journal.close();
    const aside = readdirSync(out).filter((n) => n.startsWith(`${JOURNAL_FILE}.old-`));
    expect(aside).to.have.length(1);
    expect(readFileSync(join(out, aside[0])).equals(before)).to.equal(true);
  });

  it('appends a new header when the input list changed, and keeps the records', async () => {
    await write([done(0)]);
    const journal = await openJournal(path, header(undefined, { inputDigest: 'e'.repeat(64), inputCount: 11 }));
    expect(journal.records.size).to.equal(1);
    await journal.close();
    const read = readJournal(path);
    expect(read.header.inputDigest).to.equal('e'.repeat(64));
    expect(read.header.inputCount).to.equal(11);
  });

  it('refuses a second writer while a live process holds the lock, and takes over a dead one\'s', async () => {
    const first = await openJournal(path, header());
    await openJournal(path, header()).then(() => expect.fail('opened twice'), (e: AnnotateError) => {
      expect(e.code).to.equal('ANNOTATE_LOCKED');
      expect(e.message).to.equal(`another resdet annotate (pid ${process.pid}) is writing ${out}; wait for it, or remove ${join(out, LOCK_FILE)} if it is not running`);
    });
    await first.close();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(out, LOCK_FILE), String(sleeper.pid));
      await openJournal(path, header()).then(() => expect.fail('opened'), (e: Error) => expect(e.message).to.include(`(pid ${sleeper.pid}) is writing`));
    } finally {
      sleeper.kill('SIGKILL');
    }
    writeFileSync(join(out, LOCK_FILE), String(deadPid()));
    const taken = await openJournal(path, header());
    expect(readFileSync(join(out, LOCK_FILE), 'utf8')).to.equal(String(process.pid));
    await taken.close();
  });

  it('keeps Unicode file names exactly (NFC and NFD are two records)', async () => {
    const names = ['caf\u00e9.jpg', 'cafe\u0301.jpg', '日本/写真.png', '😀 "quoted"\\.jpg'];
    await write(names.map((n, i) => done(i, n)));
    const journal = await openJournal(path, header());
    expect([...journal.records.keys()]).to.deep.equal(names);
    await journal.close();
  });

  it('refuses a file that is not a journal, leaving it as it was', async () => {
    writeFileSync(path, 'some\nother\nfile\n');
    await openJournal(path, header()).then(() => expect.fail('opened'), (e: AnnotateError) => expect(e.code).to.equal('ANNOTATE_JOURNAL'));
    expect(readFileSync(path, 'utf8')).to.equal('some\nother\nfile\n');
  });

  it('reads read-only: readJournal never truncates a torn tail', async () => {
    await write([done(0), done(1)]);
    truncateSync(path, statSync(path).size - 5);
    const size = statSync(path).size;
    expect([...readJournal(path).records.keys()]).to.deep.equal(['img0.jpg']);
    expect(statSync(path).size).to.equal(size);
  });
});

describe('annotate run identity', () => {
  it('canonical JSON sorts keys at every depth, so key order never changes a fingerprint', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: undefined } })).to.equal('{"a":{"d":[1,{"e":3,"f":2}]},"b":1}');
    expect(runFingerprint({ model, options: { score: 0.5, maxDetections: 100 } }))
      .to.equal(runFingerprint({ model, options: { maxDetections: 100, score: 0.5 } }))
      .and.to.not.equal(runFingerprint({ model, options: { maxDetections: 100, score: 0.6 } }));
  });

  it('identifies the bundled model by its manifest (whatever its key order) and its network files\' sizes', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'models', 'shapes', 'resdet.json'), 'utf8')) as { files: Record<string, unknown>; classes?: string[] };
    const id = manifestIdentity(manifest);
    expect(id.manifestSha256).to.match(/^[0-9a-f]{64}$/);
    expect(id.files.map((f) => f.role)).to.deep.equal(['backbone', 'boxHead', 'maskHead', 'rpnHead']);
    for (const f of id.files) expect(f.bytes).to.equal(statSync(join(repoRoot, 'models', 'shapes', f.path)).size);
    const reordered = Object.fromEntries(Object.entries(manifest).reverse()) as typeof manifest;
    expect(manifestIdentity(reordered)).to.deep.equal(id);
    expect(manifestIdentity({ ...manifest, classes: ['__background__', 'other'] } as typeof manifest).manifestSha256).to.not.equal(id.manifestSha256);
  });

  it('digests ids and file names of the whole list, and nothing a separator could fake', () => {
    const a = inputDigest([{ id: 1, fileName: 'a' }, { id: 2, fileName: 'b' }]);
    expect(a).to.equal(inputDigest([{ id: 1, fileName: 'a' }, { id: 2, fileName: 'b' }]));
    expect(a).to.not.equal(inputDigest([{ id: 1, fileName: 'a"],[2,"b' }]));
    expect(a).to.not.equal(inputDigest([{ id: 2, fileName: 'b' }, { id: 1, fileName: 'a' }]));
  });
});
