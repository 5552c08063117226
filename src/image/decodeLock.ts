/**
 * A readers-writer lock over decodes: each thread has one, over its own decodes (sharp runs
 * several at once on libuv's pool), and threads given another's buffer share it (`resdet
 * annotate`'s helper threads share the main thread's). Decodes hold it shared and never wait for
 * each other; a decode that failed is run again holding it alone, so that libvips's one error
 * text of the process (see vipsReason.ts) holds nothing but that file's lines, unless a thread
 * outside the lock fails meanwhile. It costs two atomic operations per decode and a wait only
 * while a failed file is decoded again.
 *
 * Layout of the shared Int32Array: [0] decodes holding it shared, [1] 1 while one holds it alone.
 */

const READERS = 0;
const WRITER = 1;
/** A thread that died holding the lock would stall the others: past this, a retry goes on without it. */
const ALONE_DEADLINE_MS = 10_000;
/** How long one wait lasts before the state is looked at again. */
const POLL_MS = 200;

type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

let state: Int32Array | undefined;

function lock(): Int32Array {
  state ??= new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  return state;
}

/** This thread's lock, to give to the threads it starts (in workerData) for {@link shareDecodeLock}. */
export function decodeLockBuffer(): SharedArrayBuffer {
  return lock().buffer as SharedArrayBuffer;
}

/** Makes this thread's decodes take the lock in `buffer` (from another thread's {@link decodeLockBuffer}). */
export function shareDecodeLock(buffer: SharedArrayBuffer): void {
  state = new Int32Array(buffer);
}

/**
 * Waits until s[index] is no longer `value`, or {@link POLL_MS}. A pending waitAsync does not keep
 * Node's event loop alive (a worker with nothing else to do would exit, code 13): the timer does.
 */
async function waitWhile(s: Int32Array, index: number, value: number): Promise<void> {
  const result = waitAsync(s, index, value, POLL_MS);
  if (!result.async) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([result.value, new Promise((resolve) => { timer = setTimeout(resolve, POLL_MS); })]);
  clearTimeout(timer);
}

/** Runs `decode` holding the lock shared: at once, unless a failed file is being decoded alone. */
export async function decodeShared<T>(decode: () => Promise<T>): Promise<T> {
  const s = lock();
  for (;;) {
    while (Atomics.load(s, WRITER) !== 0) await waitWhile(s, WRITER, 1);
    Atomics.add(s, READERS, 1);
    if (Atomics.load(s, WRITER) === 0) break;
    Atomics.sub(s, READERS, 1);
    Atomics.notify(s, READERS);
  }
  try {
    return await decode();
  } finally {
    Atomics.sub(s, READERS, 1);
    Atomics.notify(s, READERS);
  }
}

/**
 * Runs `decode` once no other decode of the lock's threads runs, and none starts until it ends.
 * Past {@link ALONE_DEADLINE_MS} of waiting, it runs as it can.
 */
export async function decodeAlone<T>(decode: () => Promise<T>): Promise<T> {
  const s = lock();
  const deadline = Date.now() + ALONE_DEADLINE_MS;
  let held = false;
  while (!(held = Atomics.compareExchange(s, WRITER, 0, 1) === 0) && Date.now() < deadline) await waitWhile(s, WRITER, 1);
  try {
    for (let readers; (readers = Atomics.load(s, READERS)) !== 0 && Date.now() < deadline;) await waitWhile(s, READERS, readers);
    return await decode();
  } finally {
    if (held) {
      Atomics.store(s, WRITER, 0);
      Atomics.notify(s, WRITER);
    }
  }
}
