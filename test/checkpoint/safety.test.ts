/**
 * Hostile and broken inputs: malicious pickles are refused with the global named and nothing
 * runs; truncated, corrupt, mislabelled and random files all fail with a CheckpointError naming
 * the file — never another exception, an out-of-bounds read or a hang.
 */
import { expect } from 'chai';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { StateDict } from '../../onnx/tensor.js';
import { CheckpointError, loadCheckpoint, loadCheckpointBuffer } from '../../src/checkpoint/index.js';
import { caseBytes, caseFile, caseMeta } from './helpers.js';

/** Awaits a load that must fail, and returns its CheckpointError. */
async function rejection(load: Promise<StateDict>, what: string): Promise<CheckpointError> {
  try {
    await load;
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw new Error(`${what}: expected a CheckpointError, got ${String(e)}`);
    return e;
  }
  throw new Error(`${what}: loaded without an error`);
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('checkpoint: malicious pickles', function () {
  for (const name of ['evil_system_zip', 'evil_system_legacy', 'evil_system_zip_p4', 'evil_eval_zip', 'evil_eval_legacy', 'evil_bare_pickle']) {
    it(`${name}: refuses the global that torch.load would call, names it and the file, and runs nothing`, async function () {
      const { refused, marker } = caseMeta(name);
      rmSync(marker!, { force: true });
      const path = caseFile(name);
      const err = await rejection(loadCheckpoint(path), name);
      expect(err.message).to.include(`'${refused}'`);
      expect(err.file).to.equal(path);
      expect(err.message.startsWith(path)).to.equal(true);
      await rejection(loadCheckpointBuffer(caseBytes(name), name), `${name} (buffer)`);
      expect(existsSync(marker!), `the payload's marker file ${marker} must not exist`).to.equal(false);
    });
  }

  it('a whole pickled nn.Module is refused with its class named and a hint to save its state_dict()', async function () {
    const err = await rejection(loadCheckpoint(caseFile('whole_module')), 'whole_module');
    expect(err.message).to.include(`'${caseMeta('whole_module').refused!}'`).and.include('state_dict()');
  });
});

describe('checkpoint: corrupt and foreign files', function () {
  for (const name of ['missing_storage', 'oversized_view', 'strided_past_storage', 'oversized_storage']) {
    it(`${name}: fails with a CheckpointError saying what is wrong`, async function () {
      const err = await rejection(loadCheckpoint(caseFile(name)), name);
      expect(err.message).to.include(caseMeta(name).error!);
    });
  }

  it('a PNG renamed .pth is reported as a PNG image', async function () {
    const err = await rejection(loadCheckpoint(caseFile('png')), 'png');
    expect(err.message).to.include('PNG');
  });

  it('a missing file is a CheckpointError naming the path', async function () {
    const err = await rejection(loadCheckpoint('/nonexistent/resdet/model.pth'), 'missing file');
    expect(err.file).to.equal('/nonexistent/resdet/model.pth');
  });

  it('a tar archive (the torch < 0.4 format) is reported as unsupported, with what to do', async function () {
    const tar = new Uint8Array(1024);
    tar.set(Buffer.from('storages'), 0);
    tar.set(Buffer.from('ustar'), 257);
    const err = await rejection(loadCheckpointBuffer(tar, 'old.pth'), 'tar');
    expect(err.message).to.include('tar format').and.include('re-save');
  });

  it('a directory given as the checkpoint is a CheckpointError', async function () {
    const err = await rejection(loadCheckpoint(tmpdir()), 'directory');
    expect(err.message).to.include('not a regular file');
  });

  it('random bytes of several sizes (and an empty file) are CheckpointErrors', async function () {
    const random = prng(1);
    for (const size of [0, 1, 7, 8, 9, 64, 600, 4096, 100_000]) {
      for (const first of [null, 0x80, 0x50]) { // also random data that starts like a pickle / zip
        const bytes = Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
        if (first !== null && size > 0) bytes[0] = first;
        await rejection(loadCheckpointBuffer(bytes, `random-${size}`), `random ${size} bytes`);
      }
    }
  });

  /** A legacy file around a hand-made object pickle: magic number, protocol 1001, empty sys info. */
  function legacyWith(objectPickle: number[]): Uint8Array {
    const magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
    const version = [0x80, 2, 0x4d, 0xe9, 0x03, 0x2e];
    const sysInfo = [0x80, 2, 0x7d, 0x2e];
    return Uint8Array.from([...magic, ...version, ...sysInfo, ...objectPickle]);
  }
  const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

  for (const [module, name] of [['torch', 'toString'], ['torch', '__proto__'], ['constructor', 'x'], ['__builtin__', 'constructor']]) {
    it(`GLOBAL '${module}.${name}' is refused by name (no lookup reaches Object.prototype)`, async function () {
      const bytes = legacyWith([0x80, 2, 0x63, ...ascii(`${module}\n${name}\n`), 0x2e]);
      const err = await rejection(loadCheckpointBuffer(bytes, 'proto-global'), `${module}.${name}`);
      expect(err.message).to.include(`.${name}'`).and.include('refuses the pickle global');
    });
  }

  it("a safetensors dtype named 'constructor' is refused as an unsupported dtype", async function () {
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }));
    const bytes = Buffer.concat([Buffer.alloc(8), header, Buffer.alloc(4)]);
    bytes.writeBigUInt64LE(BigInt(header.length), 0);
    const err = await rejection(loadCheckpointBuffer(bytes, 'proto.safetensors'), 'constructor dtype');
    expect(err.message).to.include('dtype "constructor" is not supported');
  });

  it('a pickle with a 300,000-item APPENDS fails as a CheckpointError, not a stack overflow', async function () {
    const items = 300_000;
    const bytes = new Uint8Array(5 + items + 2);
    bytes.set([0x80, 0x02, 0x5d, 0x28]); // PROTO 2, EMPTY_LIST, MARK
    bytes.fill(0x4e, 4, 4 + items); // NONE x items
    bytes.set([0x65, 0x2e], 4 + items); // APPENDS, STOP
    const err = await rejection(loadCheckpointBuffer(bytes, 'huge-appends'), 'huge APPENDS');
    expect(err.message).to.include('magic number');
  });

  for (const name of ['small_zip', 'small_legacy', 'small_zip_p4', 'small_legacy_p4', 'small_zip64', 'safetensors', 'model_legacy']) {
    it(`${name}: cut short at many points, every prefix is a CheckpointError`, async function () {
      const bytes = caseBytes(name);
      const n = bytes.length;
      const cuts = [0, 1, 8, 30, 64, 100, 200, 500, Math.floor(n / 4), Math.floor(n / 2), n - 4096, n - 100, n - 22, n - 21, n - 1];
      for (const cut of cuts.filter((c) => c >= 0 && c < n)) {
        await rejection(loadCheckpointBuffer(bytes.subarray(0, cut), `${name}[:${cut}]`), `${name} cut at ${cut}`);
      }
      await rejection(loadCheckpoint(caseFile(`${name}-cut`, bytes.subarray(0, Math.floor(n / 2)))), `${name} file cut in half`);
    });
  }

  for (const name of ['small_legacy', 'small_legacy_p4', 'small_zip', 'safetensors']) {
    it(`${name}: 400 random byte corruptions each load or fail with a CheckpointError, never anything else`, async function () {
      const original = caseBytes(name);
      const random = prng(name.length);
      // Corrupt where the structure is: the pickles and headers in the first few KiB, or the zip directory at the end.
      const region = name === 'small_zip' ? [Math.max(0, original.length - 2048), original.length] : [0, Math.min(original.length, 4096)];
      for (let i = 0; i < 400; i++) {
        const bytes = original.slice();
        for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
          bytes[region[0]! + Math.floor(random() * (region[1]! - region[0]!))] = Math.floor(random() * 256);
        }
        try {
          await loadCheckpointBuffer(bytes, `${name}-mutant-${i}`);
        } catch (e) {
          if (!(e instanceof CheckpointError)) throw new Error(`${name} mutant ${i}: ${String((e as Error).stack ?? e)}`);
        }
      }
    });
  }
});
