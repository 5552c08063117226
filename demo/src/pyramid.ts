/**
 * The pyramid view: each FPN level of the current image (detect's `pyramid: true`), as a heat
 * map of the mean over channels or of one channel, cropped to the image (the rest of a level is
 * the input's zero padding), each level on its own colour scale.
 */
import type { PyramidActivations, PyramidLevelActivations } from 'resdet';
import { el } from './dom.js';

/** 'mean', or a channel index. */
export type ChannelChoice = 'mean' | number;

/** Viridis at 9 stops, interpolated into a 256-entry table. */
const VIRIDIS_STOPS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];
const VIRIDIS: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (VIRIDIS_STOPS.length - 1);
    const k = Math.min(Math.floor(t), VIRIDIS_STOPS.length - 2);
    const f = t - k;
    for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(VIRIDIS_STOPS[k][c] * (1 - f) + VIRIDIS_STOPS[k + 1][c] * f);
  }
  return lut;
})();

/** 'P2' for stride 4 (P_k has stride 2^k). */
export const levelLabel = (level: PyramidLevelActivations) => `P${Math.round(Math.log2(level.stride))}`;

/** The image's part of a level: rows and columns covering the resized image. */
function cropOf(level: PyramidLevelActivations, imageSize: [number, number]): [number, number] {
  return [Math.min(level.height, Math.ceil(imageSize[0] / level.stride)), Math.min(level.width, Math.ceil(imageSize[1] / level.stride))];
}

/** [rows, cols] values of the chosen channel (or the channel mean) over the crop. */
function levelMap(level: PyramidLevelActivations, rows: number, cols: number, channel: ChannelChoice): Float32Array {
  const out = new Float32Array(rows * cols);
  const plane = level.height * level.width;
  const channels = channel === 'mean' ? Array.from({ length: level.channels }, (_, c) => c) : [Math.min(channel, level.channels - 1)];
  for (const c of channels) {
    const base = c * plane;
    for (let y = 0; y < rows; y++) {
      for (let x = 0, o = y * cols, i = base + y * level.width; x < cols; x++, o++, i++) out[o] += level.data[i];
    }
  }
  if (channels.length > 1) for (let i = 0; i < out.length; i++) out[i] /= channels.length;
  return out;
}

function heatMap(values: Float32Array, rows: number, cols: number): { canvas: HTMLCanvasElement; min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min || 1;
  const canvas = el('canvas', { width: String(cols), height: String(rows) });
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(cols, rows);
  for (let i = 0; i < values.length; i++) {
    const k = 3 * Math.round(((values[i] - min) / span) * 255);
    image.data.set([VIRIDIS[k], VIRIDIS[k + 1], VIRIDIS[k + 2], 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  return { canvas, min, max };
}

/** Fills the channel picker for a pyramid of `channels` channels, keeping the choice when it still exists. */
export function fillChannelPicker(select: HTMLSelectElement, channels: number): void {
  if (select.options.length === channels + 1) return;
  const keep = select.value;
  select.replaceChildren(el('option', { value: 'mean' }, 'Mean over channels'));
  for (let c = 0; c < channels; c++) select.append(el('option', { value: String(c) }, `Channel ${c}`));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : 'mean';
}

/** Renders every level into `container` (one figure each). */
export function renderPyramid(container: HTMLElement, pyramid: PyramidActivations, channel: ChannelChoice): void {
  const figures = pyramid.levels.map((level) => {
    const [rows, cols] = cropOf(level, pyramid.imageSize);
    const { canvas, min, max } = heatMap(levelMap(level, rows, cols, channel), rows, cols);
    canvas.setAttribute('role', 'img');
    const what = channel === 'mean' ? `mean of ${level.channels} channels` : `channel ${channel}`;
    canvas.setAttribute('aria-label', `${levelLabel(level)} heat map, ${what}, ${cols} by ${rows} cells`);
    return el('figure', { class: 'level', 'data-level': levelLabel(level) }, canvas,
      el('figcaption', {}, el('strong', {}, levelLabel(level)), ` · stride ${level.stride} · ${cols}×${rows} · ${level.channels} ch`,
        el('br'), el('span', { class: 'small' }, `${what}: ${min.toFixed(2)} … ${max.toFixed(2)}`)));
  });
  container.replaceChildren(...figures);
}
