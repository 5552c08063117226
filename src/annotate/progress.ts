/**
 * What `resdet annotate` shows while it runs: on a terminal, one bar redrawn in place (images/s
 * and ETA); elsewhere (CI logs, files, pipes) a plain line every `intervalMs`, so a log shows
 * progress without thousands of carriage returns.
 */

export interface ProgressCounts {
  /** Images finished in this run (done + failed). */
  finished: number;
  failed: number;
  detections: number;
}

export interface ProgressOptions {
  /** Images this run has to do (the shard minus what a resume found done). */
  total: number;
  /** Where to write (stderr by default). */
  stream?: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean; columns?: number };
  /** Between plain lines when not a terminal (default 10 s). */
  intervalMs?: number;
  now?: () => number;
}

/** 75 -> '1m15s', 4000 -> '1h06m'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.intervalMs = options.intervalMs ?? 10_000;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** Images per second so far, and the seconds left at that rate. */
  rate(counts: ProgressCounts): { perSecond: number; etaSeconds: number } {
    const seconds = (this.now() - this.started) / 1000;
    const perSecond = seconds > 0 ? counts.finished / seconds : 0;
    return { perSecond, etaSeconds: perSecond > 0 ? (this.options.total - counts.finished) / perSecond : Infinity };
  }

  line(counts: ProgressCounts): string {
    const { total } = this.options;
    const { perSecond, etaSeconds } = this.rate(counts);
    const percent = total ? Math.floor((100 * counts.finished) / total) : 100;
    const failed = counts.failed ? `, ${counts.failed} failed` : '';
    return `${counts.finished}/${total} images (${percent}%), ${perSecond.toFixed(1)} images/s, ETA ${formatDuration(etaSeconds)}, ${counts.detections} detections${failed}`;
  }

  /** Called after each image; draws at most 10 times a second on a terminal. */
  update(counts: ProgressCounts, force = false): void {
    const t = this.now();
    if (this.tty) {
      if (!force && t - this.lastDraw < 100) return;
      const width = Math.max(10, Math.min(30, ((this.stream as { columns?: number }).columns ?? 80) - 90));
      const filled = this.options.total ? Math.round((width * counts.finished) / this.options.total) : width;
      this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.line(counts)}\x1b[K`);
      this.drawn = true;
    } else {
      if (!force && t - this.lastDraw < this.intervalMs) return;
      this.stream.write(`annotate: ${this.line(counts)}\n`);
    }
    this.lastDraw = t;
  }

  /** Ends the bar's line, so what follows starts on a fresh one. */
  end(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
