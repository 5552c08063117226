/** Where per-image outputs go inside --out: previews never overwrite each other. */
import { expect } from 'chai';
import { previewNames } from '../../src/annotate/paths.js';

describe('previewNames: one preview file per input, none shared', () => {
  it('keeps name.png where it is free, and tells apart names that differ in extension or case only', () => {
    const names = previewNames([
      { fileName: 'gray.png', id: 1 }, { fileName: 'gray.jpg', id: 2 }, { fileName: 'a/x.JPG', id: 3 }, { fileName: 'a/x.jpg', id: 4 },
      { fileName: 'gray.jpg.png', id: 5 }, { fileName: 'b/y.png', id: 6 }, { fileName: '../z.jpg', id: 7 }, { fileName: 'c/q.jpg', id: 8 },
    ]);
    expect(Object.fromEntries(names)).to.deep.equal({
      'gray.png': 'gray.png', 'gray.jpg.png': 'gray.jpg.png', 'b/y.png': 'b/y.png', 'c/q.jpg': 'c/q.png', '../z.jpg': '_outside/7-z.png',
      // gray.jpg.png is an input's own name, so gray.jpg falls back to its id; x.JPG and x.jpg are one file on a case-insensitive disk.
      'gray.jpg': '2-gray.png', 'a/x.JPG': 'a/x.JPG.png', 'a/x.jpg': 'a/4-x.png',
    });
  });

  it('gives distinct names (case-insensitively) to any list of distinct file names', () => {
    const stems = ['a', 'A', 'a.png', 'a.jpg', 'b/a', '1-a', '2-a'];
    const exts = ['.png', '.jpg', '.JPG', '.png.png', ''];
    const inputs = [...new Set(stems.flatMap((s) => exts.map((e) => s + e)))].map((fileName, i) => ({ fileName, id: i + 1 }));
    const names = [...previewNames(inputs).values()];
    expect(names).to.have.length(inputs.length);
    expect(new Set(names.map((n) => n.toLowerCase())).size).to.equal(inputs.length);
    for (const n of names) expect(n).to.match(/\.png$/);
  });
});
