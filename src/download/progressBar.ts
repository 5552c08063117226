/**
 * Download progress on a terminal: a bar redrawn in place when the stream is a TTY, plain lines
 * every few seconds otherwise (logs, CI), so that neither floods nor stays silent.
 */
import type { DownloadProgress } from '../modelPackage/remote.js';

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The stream the reporter writes to: process.stderr, or a test's stand-in. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

interface FileState {
  started: number;
  lastDraw: number;
  finished: boolean;
}

/**
 * Returns an `onProgress` callback that draws downloads on `stream`.
 * @param options redrawMs: TTY redraw interval (100); lineMs: interval of plain lines (5000)
 */
export function progressReporter(
  stream: ProgressStream = process.stderr, options: { redrawMs?: number; lineMs?: number; now?: () => number } = {},
): (progress: DownloadProgress) => void {
  const now = options.now ?? (() => performance.now());
  const tty = Boolean(stream.isTTY);
  const interval = tty ? options.redrawMs ?? 100 : options.lineMs ?? 5000;
  const files = new Map<string, FileState>();

  const describe = (p: DownloadProgress, state: FileState, t: number): string => {
    const seconds = Math.max((t - state.started) / 1000, 1e-3);
    const rate = `${mb(p.loaded / seconds)}/s`;
    if (p.total === undefined) return `${p.file} ${mb(p.loaded)} ${rate}`;
    const fraction = p.total > 0 ? p.loaded / p.total : 1;
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    if (!tty) return `${p.file}: ${percent.trim()} of ${mb(p.total)} (${rate})`;
    const width = 24;
    const filled = Math.round(fraction * width);
    return `${p.file} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent} ${mb(p.loaded)}/${mb(p.total)} ${rate}`;
  };

  return (p) => {
    const t = now();
    if (p.cached) {
      stream.write(`${p.file}: in the cache (${mb(p.loaded)})\n`);
      return;
    }
    let state = files.get(p.url);
    if (!state || state.finished) {
      state = { started: t, lastDraw: tty ? -Infinity : t, finished: false };
      files.set(p.url, state);
      if (!tty) stream.write(`downloading ${p.url}${p.total === undefined ? '' : ` (${mb(p.total)})`}${p.loaded > 0 ? `, resuming at ${mb(p.loaded)}` : ''}\n`);
    }
    const done = p.total !== undefined && p.loaded >= p.total;
    if (!done && t - state.lastDraw < interval) return;
    state.lastDraw = t;
    if (tty) {
      const line = describe(p, state, t).slice(0, Math.max((stream.columns ?? 80) - 1, 20));
      stream.write(`\r${line}\x1b[K${done ? '\n' : ''}`);
    } else if (done) {
      stream.write(`${p.file}: done, ${mb(p.loaded)} in ${((t - state.started) / 1000).toFixed(1)} s\n`);
    } else {
      stream.write(`${describe(p, state, t)}\n`);
    }
    state.finished = done;
  };
}
