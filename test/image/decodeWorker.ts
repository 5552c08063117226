/**
 * Worker of test/image/threads.test.ts: decodes each of the files it is given `rounds` times,
 * in turn, and posts back every error message it met with its count. With `decodeLock`, its
 * decodes share that lock.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { shareDecodeLock } from '../../src/image/decodeLock.js';
import { decodeImage } from '../../src/image/index.js';

const { files, rounds, decodeLock } = workerData as { files: string[]; rounds: number; decodeLock?: SharedArrayBuffer };
if (decodeLock) shareDecodeLock(decodeLock);
const messages: Record<string, number> = {};
for (let round = 0; round < rounds; round++) {
  for (const file of files) {
    const message = await decodeImage(file).then(() => `${file}: decoded`, (e: Error) => e.message);
    messages[message] = (messages[message] ?? 0) + 1;
  }
}
parentPort!.postMessage(messages);
