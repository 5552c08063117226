/**
 * Live mode: the webcam's frames segmented one at a time. A frame that arrives while the previous
 * one is still being segmented is dropped, so the page never queues behind the camera; frames per
 * second counts the frames segmented over the last two seconds. Dropped frames are counted from
 * the video's own frame counter (requestVideoFrameCallback's presentedFrames): on WASM the
 * network runs on the page's thread, so no callback runs while it is busy, and the frames
 * presented meanwhile are the ones skipped.
 */

export interface LiveStats { frames: number; dropped: number; fps: number }

export class LiveCamera {
  private stream: MediaStream | undefined;
  private busy = false;
  private running = false;
  private done: number[] = [];
  /** presentedFrames of the last frame segmented. */
  private lastPresented: number | undefined;
  readonly stats: LiveStats = { frames: 0, dropped: 0, fps: 0 };
  /** The frame being (or last) segmented, copied from the video so it stays put while drawn. */
  readonly frame = document.createElement('canvas');

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly segment: (frame: HTMLCanvasElement) => Promise<void>,
    private readonly onStats: (stats: LiveStats) => void,
  ) {}

  get active(): boolean {
    return this.running;
  }

  /** Starts the camera; rejects (e.g. NotAllowedError, NotFoundError) when there is none to use. */
  async start(): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives the page no camera (navigator.mediaDevices needs https: or localhost)');
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    this.video.srcObject = this.stream;
    await this.video.play();
    Object.assign(this.stats, { frames: 0, dropped: 0, fps: 0 });
    this.done = [];
    this.lastPresented = undefined;
    this.running = true;
    this.next();
  }

  stop(): void {
    this.running = false;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = undefined;
    this.video.srcObject = null;
  }

  /** Waits for the next video frame (requestVideoFrameCallback where there is one). */
  private next(): void {
    if (!this.running) return;
    type FrameCallback = (now: number, metadata: { presentedFrames: number }) => void;
    const video = this.video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: FrameCallback) => number };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback((_, metadata) => this.onFrame(metadata.presentedFrames));
    else requestAnimationFrame(() => this.onFrame(undefined));
  }

  /** @param presented the video's presentedFrames (undefined without requestVideoFrameCallback) */
  private onFrame(presented: number | undefined): void {
    if (!this.running) return;
    if (this.busy) {
      // Only reached when the network runs off the page's thread (WebGPU, a worker).
      if (presented === undefined) this.stats.dropped++;
      this.report();
    } else if (this.video.videoWidth > 0) {
      if (presented !== undefined && this.lastPresented !== undefined) this.stats.dropped += Math.max(0, presented - this.lastPresented - 1);
      this.lastPresented = presented;
      this.busy = true;
      const { videoWidth: width, videoHeight: height } = this.video;
      if (this.frame.width !== width || this.frame.height !== height) Object.assign(this.frame, { width, height });
      this.frame.getContext('2d')!.drawImage(this.video, 0, 0, width, height);
      this.segment(this.frame).then(() => {
        this.stats.frames++;
        this.done.push(performance.now());
      }).catch(() => this.stop()).finally(() => {
        this.busy = false;
        this.report();
      });
    }
    this.next();
  }

  private report(): void {
    const now = performance.now();
    this.done = this.done.filter((t) => now - t <= 2000);
    const span = this.done.length > 1 ? (this.done[this.done.length - 1] - this.done[0]) / 1000 : 0;
    this.stats.fps = span > 0 ? (this.done.length - 1) / span : 0;
    this.onStats(this.stats);
  }
}
