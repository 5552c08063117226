/**
 * Requests to one worker thread of `resdet annotate` (a helper, worker.ts, or an inference
 * worker, replica.ts) and the replies it has not sent yet, matched by `seq`. When the thread
 * stops (an error, or an exit before `close`), every request in flight is answered with its
 * failure reply, and so is every later one: no image is ever silently lost.
 */
import type { Worker } from 'node:worker_threads';

export class ThreadCalls<Reply extends { seq: number }> {
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; failed: (why: string) => Reply }>();
  private failure: string | null = null;

  /**
   * @param other a message that is no reply (e.g. replica.ts's 'ready'): handled, not matched
   * @param stopped called once, with the reason, when the thread stops
   */
  constructor(private readonly worker: Worker, other?: (message: unknown) => boolean, stopped?: (why: string) => void) {
    worker.on('message', (message: Reply) => {
      if (other?.(message)) return;
      const call = this.waiting.get(message.seq);
      this.waiting.delete(message.seq);
      call?.resolve(message);
    });
    const stop = (why: string) => {
      if (this.failure !== null) return;
      this.failure = why;
      stopped?.(why);
      for (const call of this.waiting.values()) call.resolve(call.failed(why));
      this.waiting.clear();
    };
    worker.on('error', (e) => stop(e.message));
    worker.on('exit', (code) => stop(`exited with code ${code}`));
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.waiting.size;
  }

  /**
   * Posts `message` (its `seq` matches the reply) and resolves with the reply, or with
   * `failed(why)` if the thread has stopped or stops first.
   */
  call(message: { seq: number }, transfer: ArrayBuffer[], failed: (why: string) => Reply): Promise<Reply> {
    if (this.failure !== null) return Promise.resolve(failed(this.failure));
    return new Promise<Reply>((resolve) => {
      this.waiting.set(message.seq, { resolve, failed });
      this.worker.postMessage(message, transfer);
    });
  }

  /** Ends the thread; requests still in flight are not answered. */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
