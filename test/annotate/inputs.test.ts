import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnnotateError } from '../../src/annotate/errors.js';
import { compileGlob, expandBraces, globBase } from '../../src/annotate/glob.js';
import { listInputs } from '../../src/annotate/inputs.js';
import { parseShard, selectShard, shardSize } from '../../src/annotate/shard.js';

/** Creates each file (parents too) with a few distinct bytes. */
function files(root: string, names: string[]): void {
  for (const name of names) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), `image ${name}`);
  }
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<AnnotateError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(AnnotateError);
    expect((e as Error).message).to.match(pattern);
    return e as AnnotateError;
  }
  throw new Error(`expected a refusal matching ${pattern}`);
}

describe('annotate inputs: folders, globs, list files and COCO files as one global list', () => {
  let work: string;
  let warnings: string[];
  const warn = (m: string) => warnings.push(m);
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'resdet-inputs-'));
    warnings = [];
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('walks a folder recursively for image extensions in any case, skipping hidden entries and other files', async () => {
    files(work, ['a.jpg', 'b.PNG', 'c.txt', 'sub/d.jpeg', 'sub/deep/e.WebP', 'f.bmp', 'g.tif', 'h.tiff', 'i.gif', '.hidden/x.jpg', '._a.jpg', 'sub/.cache.png']);
    const inputs = await listInputs([work], { warn });
    expect(inputs.map((i) => i.fileName)).to.deep.equal(['a.jpg', 'b.PNG', 'f.bmp', 'g.tif', 'h.tiff', 'i.gif', 'sub/d.jpeg', 'sub/deep/e.WebP']);
    expect(inputs.map((i) => i.id)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(inputs.map((i) => i.index)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(inputs[6].path).to.equal(join(work, 'sub', 'd.jpeg'));
  });

  it('orders by the UTF-8 bytes of the relative path, not by locale ("." < "/" < "Z" < "a" < "é")', async () => {
    files(work, ['é.jpg', 'a.jpg', 'Z.jpg', 'a/b.jpg', 'a.b.jpg', 'a-c.jpg']);
    const inputs = await listInputs([work], { warn });
    expect(inputs.map((i) => i.fileName)).to.deep.equal(['Z.jpg', 'a-c.jpg', 'a.b.jpg', 'a.jpg', 'a/b.jpg', 'é.jpg']);
  });

  it('keeps Unicode names as their bytes: NFC and NFD spellings are two different files', async () => {
    const nfc = 'caf\u00e9.jpg';
    const nfd = 'cafe\u0301.jpg';
    files(work, [nfc, nfd, '日本/写真.png']);
    const inputs = await listInputs([work], { warn });
    expect(inputs.map((i) => i.fileName)).to.deep.equal([nfd, nfc, '日本/写真.png']);
  });

  it('never walks into an excluded folder (the run\'s --out), under any spelling', async () => {
    files(work, ['a.jpg', 'out/previews/a.png', 'out/x.jpg']);
    const inputs = await listInputs([work], { exclude: [join(work, 'sub', '..', 'out')], warn });
    expect(inputs.map((i) => i.fileName)).to.deep.equal(['a.jpg']);
  });

  it('reads symlinked files, does not follow symlinked folders (one warning), and keeps a file reached twice once', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'resdet-outside-'));
    try {
      files(outside, ['far.jpg']);
      files(work, ['real/a.jpg']);
      symlinkSync(outside, join(work, 'linked'));
      symlinkSync(join(outside, 'far.jpg'), join(work, 'far-link.jpg'));
      symlinkSync(join(work, 'real', 'a.jpg'), join(work, 'real', 'z-alias.jpg'));
      const inputs = await listInputs([work], { warn });
      expect(inputs.map((i) => i.fileName)).to.deep.equal(['far-link.jpg', 'real/a.jpg']);
      expect(warnings.some((w) => /1 symlinked folder\(s\) not followed \(e\.g\. linked\)/.test(w))).to.equal(true);
      expect(warnings.some((w) => /z-alias\.jpg: the same file as .*real\/a\.jpg.*annotated once, as 'real\/a\.jpg'/.test(w))).to.equal(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('gives ids index + 1 across all specs, and skips the same folder given twice with a warning', async () => {
    files(work, ['one/a.jpg', 'two/b.jpg', 'two/c.jpg']);
    const inputs = await listInputs([join(work, 'two'), join(work, 'one'), join(work, 'two')], { warn });
    expect(inputs.map((i) => [i.id, i.fileName])).to.deep.equal([[1, 'b.jpg'], [2, 'c.jpg'], [3, 'a.jpg']]);
    expect(warnings.filter((w) => /the same file as/.test(w))).to.have.length(2);
  });

  it('refuses two different files that would have the same fileName, naming both', async () => {
    files(work, ['one/a.jpg', 'two/a.jpg']);
    const e = await refused(listInputs([join(work, 'one'), join(work, 'two')], { warn }), /two inputs have the file name 'a\.jpg'/);
    expect(e.code).to.equal('ANNOTATE_INPUT');
    expect(e.message).to.include(join(work, 'one', 'a.jpg')).and.to.include(join(work, 'two', 'a.jpg'));
  });

  it('expands globs (*, **, ?, [...], {a,b}) below their fixed folders, named relative to them', async () => {
    files(work, ['p/2023/a.jpg', 'p/2023/b.png', 'p/2024/x/c.jpg', 'p/2025/d.jpg', 'p/e1.jpg', 'p/e2.jpg', 'p/notes.txt']);
    const names = async (glob: string) => (await listInputs([glob], { cwd: work, warn })).map((i) => i.fileName);
    expect(await names('p/**/*.jpg')).to.deep.equal(['2023/a.jpg', '2024/x/c.jpg', '2025/d.jpg', 'e1.jpg', 'e2.jpg']);
    expect(await names('p/{2023,2024/x}/*')).to.deep.equal(['2023/a.jpg', '2023/b.png', '2024/x/c.jpg']);
    expect(await names('p/e?.jpg')).to.deep.equal(['e1.jpg', 'e2.jpg']);
    expect(await names('p/202[!4]/*.jpg')).to.deep.equal(['2023/a.jpg', '2025/d.jpg']);
    expect(await names(join(work, 'p', '*', '*.png'))).to.deep.equal(['2023/b.png']);
    await refused(listInputs(['p/*.heic'], { cwd: work, warn }), /no images found in p\/\*\.heic/);
  });

  it('reads list files relative to their folder, skipping blank lines and comments, in their own order', async () => {
    files(work, ['imgs/b.jpg', 'imgs/a.jpg', 'elsewhere.png']);
    writeFileSync(join(work, 'imgs', 'list.txt'), '# my images\r\nb.jpg\r\n\r\n  ./a.jpg  \n../elsewhere.png\nmissing.jpg\n');
    const inputs = await listInputs([join(work, 'imgs', 'list.txt')], { warn });
    expect(inputs.map((i) => i.fileName)).to.deep.equal(['b.jpg', 'a.jpg', '../elsewhere.png', 'missing.jpg']);
    expect(inputs[2].path).to.equal(join(work, 'elsewhere.png'));
    expect(inputs[3].path).to.equal(join(work, 'imgs', 'missing.jpg')); // fails when read, not here
  });

  it('reads a COCO file\'s images with their ids and file names, against its folder or --image-root', async () => {
    files(work, ['coco/x/1.jpg', 'root/x/1.jpg']);
    writeFileSync(join(work, 'coco', 'val.json'), JSON.stringify({ images: [{ id: 42, file_name: 'x/1.jpg', width: 1, height: 1 }, { id: 7, file_name: 'x/2.jpg' }] }));
    const inputs = await listInputs([join(work, 'coco', 'val.json')], { warn });
    expect(inputs.map((i) => [i.index, i.id, i.fileName])).to.deep.equal([[0, 42, 'x/1.jpg'], [1, 7, 'x/2.jpg']]);
    expect(inputs[0].path).to.equal(join(work, 'coco', 'x', '1.jpg'));
    const rooted = await listInputs([join(work, 'coco', 'val.json')], { imageRoot: join(work, 'root'), warn });
    expect(rooted[0].path).to.equal(join(work, 'root', 'x', '1.jpg'));
  });

  it('refuses a COCO id that collides with a generated one, naming both images', async () => {
    files(work, ['f/a.jpg', 'f/b.jpg']);
    writeFileSync(join(work, 'c.json'), JSON.stringify({ images: [{ id: 1, file_name: 'z.jpg' }] }));
    await refused(listInputs([join(work, 'f'), join(work, 'c.json')], { warn }), /image id 1 would be both 'a\.jpg' \(input #1, .*\) and 'z\.jpg' \(its id in .*c\.json\)/);
    const ok = await listInputs([join(work, 'c.json'), join(work, 'f')], { warn });
    expect(ok.map((i) => i.id)).to.deep.equal([1, 2, 3]);
  });

  it('refuses missing specs, broken COCO files and duplicate COCO ids, naming the file', async () => {
    await refused(listInputs([join(work, 'nope')], { warn }), /nope: no such file or folder/);
    writeFileSync(join(work, 'bad.json'), '{"images": [');
    await refused(listInputs([join(work, 'bad.json')], { warn }), /bad\.json: not valid JSON/);
    writeFileSync(join(work, 'other.json'), '{"annotations": []}');
    await refused(listInputs([join(work, 'other.json')], { warn }), /other\.json: has no "images" list/);
    writeFileSync(join(work, 'dup.json'), JSON.stringify({ images: [{ id: 3, file_name: 'a.jpg' }, { id: 3, file_name: 'b.jpg' }] }));
    await refused(listInputs([join(work, 'dup.json')], { warn }), /dup\.json: image id 3 is given to both 'a\.jpg' and 'b\.jpg'/);
    writeFileSync(join(work, 'noid.json'), JSON.stringify({ images: [{ file_name: 'a.jpg' }] }));
    await refused(listInputs([join(work, 'noid.json')], { warn }), /images\[0\]\.id is missing/);
  });

  it('takes a plain image file as one input named by its base name', async () => {
    files(work, ['deep/photo.heic']);
    const inputs = await listInputs([join(work, 'deep', 'photo.heic')], { warn });
    expect(inputs).to.deep.equal([{ index: 0, id: 1, fileName: 'photo.heic', path: join(work, 'deep', 'photo.heic') }]);
  });
});

describe('annotate globs: the matcher', () => {
  it('expands braces as bash does, nested, with literal braces left alone', () => {
    expect(expandBraces('a{b,c{d,e}}f')).to.deep.equal(['abf', 'acdf', 'acef']);
    expect(expandBraces('x{y}z')).to.deep.equal(['x{y}z']);
    expect(expandBraces('\\{a,b}')).to.deep.equal(['\\{a,b}']);
  });

  it('splits a glob at its first wildcard segment', () => {
    expect(globBase('photos/2024/**/*.jpg')).to.deep.equal({ base: 'photos/2024', pattern: '**/*.jpg' });
    expect(globBase('/data/*.png')).to.deep.equal({ base: '/data', pattern: '*.png' });
    expect(globBase('*.jpg')).to.deep.equal({ base: '', pattern: '*.jpg' });
  });

  it('matches *, ?, classes and ** per segment, code point by code point', () => {
    const g = compileGlob('**/[a-c]?.{jpg,png}');
    expect(g.matches('a1.jpg')).to.equal(true);
    expect(g.matches('x/y/b2.png')).to.equal(true);
    expect(g.matches('d1.jpg')).to.equal(false);
    expect(g.matches('a12.jpg')).to.equal(false);
    expect(compileGlob('?.jpg').matches('😀.jpg')).to.equal(true);
    expect(compileGlob('a-[x-z]\\*.jpg').matches('a-y*.jpg')).to.equal(true);
    expect(compileGlob('*/x.jpg').canHold('a')).to.equal(true);
    expect(compileGlob('*/x.jpg').canHold('a/b')).to.equal(false);
    expect(() => compileGlob('{a,../b}/*.jpg')).to.throw(AnnotateError, /'\.\.' and absolute paths/);
  });
});

describe('annotate shards', () => {
  it('parses K/N and refuses other values, naming them', () => {
    expect(parseShard('2/4')).to.deep.equal({ k: 2, n: 4 });
    for (const bad of ['0/4', '5/4', '1/0', '2', 'a/b', '1/2/3', '-1/2']) {
      expect(() => parseShard(bad)).to.throw(AnnotateError, new RegExp(`'${bad}'`));
    }
  });

  it('splits by global index: the shards are disjoint, their union is the input, ids are global', () => {
    const inputs = Array.from({ length: 11 }, (_, index) => ({ index, id: index + 1, fileName: `${index}.jpg`, path: `/x/${index}.jpg` }));
    const shards = [1, 2, 3].map((k) => selectShard(inputs, { k, n: 3 }));
    expect(shards.map((s) => s.length)).to.deep.equal([4, 4, 3]);
    expect(shards.map((s, i) => shardSize(11, { k: i + 1, n: 3 }))).to.deep.equal([4, 4, 3]);
    expect(shards.flat().map((i) => i.index).sort((a, b) => a - b)).to.deep.equal(inputs.map((i) => i.index));
    expect(shards[1].map((i) => i.id)).to.deep.equal([2, 5, 8, 11]);
  });
});
