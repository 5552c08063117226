/**
 * resdet's browser demo: instance segmentation with the library's own browser entry
 * (`loadModel(url).detect(image)`), nothing else in between. One detect() per image returns
 * every detection the model keeps (score >= its 0.05 floor) with probability masks over box
 * windows and, when the pyramid view is open, the FPN's feature maps; the score and mask
 * sliders, the highlight and the exports work on that result without running the network again.
 *
 * URL parameters: ?provider=auto|webgpu|wasm, ?model=<package URL> (instead of the bundled one),
 * ?image=<image URL> (instead of the first sample).
 */
import { type DetectionResult, detectDefaults, ImageDecodeError } from 'resdet';
import { bundledModel, samples } from 'virtual:demo-samples';
import { byId, el, megabytes, ms } from './dom.js';
import { areaOf, cssColour, detectionAt, drawScene, type Scene, shownIndices } from './draw.js';
import { downloadCoco, downloadPng } from './exports.js';
import { describeNetwork, filesOfDroppedFolder, loadFrom, type LoadedModel, type ModelSource, type ProviderChoice, sourceName } from './model.js';
import { type ChannelChoice, fillChannelPicker, renderPyramid } from './pyramid.js';
import { LiveCamera, type LiveStats } from './webcam.js';

const ui = {
  status: byId('status', HTMLElement),
  errors: byId('errors', HTMLElement),
  modelName: byId('model-name', HTMLElement),
  modelNetwork: byId('model-network', HTMLElement),
  modelProvider: byId('model-provider', HTMLElement),
  modelLoad: byId('model-load', HTMLElement),
  modelClasses: byId('model-classes', HTMLUListElement),
  provider: byId('provider', HTMLSelectElement),
  bundled: byId('bundled-model', HTMLButtonElement),
  folder: byId('model-folder', HTMLInputElement),
  urlForm: byId('model-url-form', HTMLFormElement),
  url: byId('model-url', HTMLInputElement),
  progress: byId('progress', HTMLElement),
  progressBar: byId('progress-bar', HTMLProgressElement),
  progressText: byId('progress-text', HTMLElement),
  imageFile: byId('image-file', HTMLInputElement),
  gallery: byId('gallery', HTMLUListElement),
  webcam: byId('webcam', HTMLButtonElement),
  runAgain: byId('run-again', HTMLButtonElement),
  live: byId('live', HTMLElement),
  liveBadge: byId('live-badge', HTMLElement),
  fps: byId('fps', HTMLElement),
  frames: byId('frames', HTMLElement),
  dropped: byId('dropped', HTMLElement),
  actualSize: byId('actual-size', HTMLInputElement),
  score: byId('score', HTMLInputElement),
  scoreValue: byId('score-value', HTMLOutputElement),
  maskThreshold: byId('mask-threshold', HTMLInputElement),
  maskThresholdValue: byId('mask-threshold-value', HTMLOutputElement),
  exportCoco: byId('export-coco', HTMLButtonElement),
  exportPng: byId('export-png', HTMLButtonElement),
  canvas: byId('canvas', HTMLCanvasElement),
  video: byId('video', HTMLVideoElement),
  count: byId('detections-count', HTMLElement),
  rows: byId('detections', HTMLTableElement).tBodies[0],
  timings: byId('timings', HTMLElement),
  runs: byId('runs', HTMLElement),
  pyramid: byId('pyramid', HTMLDetailsElement),
  channel: byId('channel', HTMLSelectElement),
  levels: byId('levels', HTMLElement),
};

/** An image to segment: something detect() takes and the page can draw, with a name for exports. */
interface Still { image: ImageBitmap | HTMLCanvasElement; width: number; height: number; name: string }

const state = {
  model: undefined as LoadedModel | undefined,
  /** The model asked for last (loaded or not): a provider change loads it again. */
  source: undefined as ModelSource | undefined,
  /** Bumped by every model load: a load that finishes after a newer one started is dropped. */
  loadGeneration: 0,
  still: undefined as Still | undefined,
  /** A still waiting for the running detect to finish (the newest one wins). */
  pending: undefined as Still | undefined,
  busy: false,
  scene: undefined as Scene | undefined,
  runs: 0,
};

// ---- status and errors ---------------------------------------------------------------------

function setStatus(text: string): void {
  ui.status.textContent = text;
}

/** Shows an error in the page (never only in the console), naming what was being done. */
function showError(what: string, error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  const name = (e as { code?: string }).code ? `${e.name} (${(e as { code?: string }).code})` : e.name;
  const close = el('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss this error' }, '×');
  const item = el('div', { class: 'error' }, el('strong', {}, `${what}: `), `${name}: ${e.message}`, close);
  close.addEventListener('click', () => item.remove());
  ui.errors.append(item);
  setStatus(`${what} failed; see the message above.`);
  console.warn(what, e);
}

function clearErrors(): void {
  ui.errors.replaceChildren();
}

// ---- the model -----------------------------------------------------------------------------

function showModel(model: LoadedModel): void {
  const { manifest, classes } = model.detector;
  ui.modelName.textContent = sourceName(model.source);
  ui.modelNetwork.textContent = describeNetwork(manifest);
  ui.modelProvider.textContent = `${model.provider === 'webgpu' ? 'WebGPU' : 'WASM'} (${model.providerNote})`;
  ui.modelProvider.dataset.provider = model.provider;
  const bytes = model.source.kind === 'files' ? 'from local files'
    : `${megabytes(model.downloaded)} downloaded, ${megabytes(model.cached)} from the cache`;
  ui.modelLoad.textContent = `${ms(model.loadMs)} (${bytes})`;
  ui.modelClasses.replaceChildren(...classes.slice(1).map((c) => el('li', {}, c)));
  ui.maskThreshold.disabled = manifest.architecture !== 'maskrcnn';
}

async function useModel(source: ModelSource): Promise<void> {
  const generation = ++state.loadGeneration;
  state.source = source;
  clearErrors();
  document.body.dataset.model = 'loading';
  setStatus(`Loading ${sourceName(source)}…`);
  ui.progress.hidden = source.kind === 'files';
  ui.progressBar.value = 0;
  ui.progressText.textContent = '';
  const totals = new Map<string, { loaded: number; total: number; cached: boolean }>();
  try {
    const model = await loadFrom(source, ui.provider.value as ProviderChoice, (p) => {
      totals.set(p.file, { loaded: p.loaded, total: p.total ?? p.loaded, cached: p.cached });
      const all = [...totals.values()];
      const loaded = all.reduce((n, f) => n + f.loaded, 0);
      const total = all.reduce((n, f) => n + f.total, 0);
      ui.progressBar.value = total ? loaded / total : 0;
      ui.progressText.textContent = `${p.file}: ${p.cached ? 'from the cache' : `${megabytes(p.loaded)} of ${megabytes(p.total ?? 0)}`}`;
    });
    if (generation !== state.loadGeneration) return void model.detector.release();
    const previous = state.model;
    state.model = model;
    await previous?.detector.release();
    document.body.dataset.model = 'loaded';
    ui.progress.hidden = true;
    // For bench/demo.ts (and anyone profiling): the load as a performance entry.
    performance.mark('resdet:model-loaded', { detail: { loadMs: model.loadMs, provider: model.provider, downloaded: model.downloaded, cached: model.cached } });
    showModel(model);
    setStatus(`Loaded ${sourceName(source)} in ${ms(model.loadMs)}.`);
    // A new model: segment what is shown again, or the first sample to begin with.
    const first = new URLSearchParams(location.search).get('image') ?? samples[0];
    if (state.still) void segmentStill(state.still);
    else if (first) void openSample(first);
  } catch (e) {
    if (generation !== state.loadGeneration) return;
    document.body.dataset.model = state.model ? 'loaded' : 'error';
    ui.progress.hidden = true;
    showError(`Loading the model ${sourceName(source)}`, e);
  }
}

// ---- segmenting ----------------------------------------------------------------------------

/** One network run on `image` (anything detect takes), as the scene to draw. */
async function segment(image: ImageBitmap | HTMLCanvasElement, width: number, height: number): Promise<Scene> {
  const model = state.model!;
  const result: DetectionResult = await model.detector.detect(image, {
    // Everything the model keeps: the sliders filter afterwards.
    scoreThreshold: 0,
    masks: 'probability',
    pyramid: ui.pyramid.open,
  });
  state.runs++;
  return { image, width, height, result, scoreThreshold: Number(ui.score.value), maskThreshold: Number(ui.maskThreshold.value), highlight: null };
}

async function segmentStill(still: Still): Promise<void> {
  state.still = still;
  if (!state.model) return;
  if (state.busy) {
    state.pending = still;
    return;
  }
  state.busy = true;
  document.body.dataset.busy = 'true';
  setStatus(`Segmenting ${still.name}…`);
  try {
    state.scene = await segment(still.image, still.width, still.height);
    showScene();
    if (performance.getEntriesByName('resdet:first-result').length === 0) performance.mark('resdet:first-result');
    const n = shownIndices(state.scene).length;
    setStatus(`${still.name}: ${n} detection${n === 1 ? '' : 's'} in ${ms(state.scene.result.timings.total)} on ${state.model.provider === 'webgpu' ? 'WebGPU' : 'WASM'}.`);
  } catch (e) {
    showError(`Segmenting ${still.name}`, e);
  } finally {
    state.busy = false;
    document.body.dataset.busy = 'false';
  }
  const next = state.pending;
  state.pending = undefined;
  if (next) await segmentStill(next);
}

/** Decodes an image file for display and detection; a file the browser cannot read is an ImageDecodeError. */
async function decodeFile(blob: Blob, name: string): Promise<Still> {
  let image: ImageBitmap;
  try {
    image = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch (e) {
    const type = blob.type ? `, type ${blob.type}` : '';
    throw new ImageDecodeError(name, `not an image this browser can read (${(e as Error).message}${type}); try a PNG, JPEG, WebP, GIF or BMP`, { cause: e });
  }
  return { image, width: image.width, height: image.height, name };
}

async function openImageFile(file: Blob, name: string): Promise<void> {
  clearErrors();
  stopLive();
  try {
    await segmentStill(await decodeFile(file, name));
  } catch (e) {
    showError(`Opening ${name}`, e);
  }
}

async function openSample(path: string): Promise<void> {
  const name = decodeURIComponent(new URL(path, location.href).pathname.split('/').pop() || 'image');
  clearErrors();
  stopLive();
  try {
    const response = await fetch(new URL(path, location.href));
    if (!response.ok) throw new ImageDecodeError(path, `cannot fetch (HTTP ${response.status})`);
    await segmentStill(await decodeFile(await response.blob(), name));
  } catch (e) {
    showError(`Opening the sample ${name}`, e);
  }
}

// ---- drawing -------------------------------------------------------------------------------

/** Labels about 13 CSS pixels high on screen, whatever the image's size and the canvas' scale. */
function screenLabelSize(scene: Scene): number | undefined {
  const shown = ui.canvas.clientWidth;
  return shown > 0 ? Math.max(6, Math.round((13 * scene.width) / shown)) : undefined;
}

function redraw(forExport = false): void {
  const scene = state.scene;
  if (!scene) return;
  scene.scoreThreshold = Number(ui.score.value);
  scene.maskThreshold = Number(ui.maskThreshold.value);
  // 1:1: one canvas pixel per device pixel; otherwise the canvas fits the column.
  ui.canvas.style.width = ui.actualSize.checked ? `${scene.width / devicePixelRatio}px` : '';
  scene.labelSize = forExport ? undefined : screenLabelSize(scene);
  drawScene(ui.canvas, scene);
  const shown = shownIndices(scene);
  ui.canvas.setAttribute('aria-label', `The image with ${shown.length} detection${shown.length === 1 ? '' : 's'} drawn: ${shown.map((i) => scene.result.detections[i].className).join(', ') || 'none'}`);
}

function setHighlight(index: number | null): void {
  const scene = state.scene;
  if (!scene || scene.highlight === index) return;
  scene.highlight = index;
  redraw();
  for (const row of ui.rows.rows) row.classList.toggle('active', Number(row.dataset.index) === index);
}

function renderList(): void {
  const scene = state.scene!;
  const shown = shownIndices(scene);
  ui.count.textContent = `(${shown.length})`;
  ui.rows.replaceChildren(...shown.map((i, k) => {
    const d = scene.result.detections[i];
    const row = el('tr', { tabindex: '0', 'data-index': String(i), 'aria-label': `${d.className}, score ${d.score.toFixed(2)}` },
      el('td', {}, el('span', { class: 'swatch', style: `background: ${cssColour(i)}` }), String(k + 1)),
      el('td', {}, d.className),
      el('td', {}, d.score.toFixed(3)),
      el('td', {}, String(Math.round(areaOf(d, scene.maskThreshold)))));
    if (scene.highlight === i) row.classList.add('active');
    row.addEventListener('mouseenter', () => setHighlight(i));
    row.addEventListener('mouseleave', () => setHighlight(null));
    row.addEventListener('focus', () => setHighlight(i));
    row.addEventListener('blur', () => setHighlight(null));
    return row;
  }));
}

const STAGES: [keyof DetectionResult['timings'], string][] = [
  ['decode', 'decode'], ['transform', 'transform'], ['backbone', 'backbone'], ['rpn', 'rpn'],
  ['roiHeads', 'heads'], ['masks', 'masks'], ['postprocess', 'paste'], ['total', 'total'], ['onnxRuntime', 'inside ONNX Runtime'],
];

function renderTimings(): void {
  const { timings } = state.scene!.result;
  ui.timings.replaceChildren(...STAGES.flatMap(([key, label]) => [el('dt', {}, label), el('dd', { 'data-stage': key, 'data-ms': String(timings[key]) }, ms(timings[key]))]));
  if (state.model) ui.timings.append(el('dt', {}, 'model load'), el('dd', { 'data-stage': 'load', 'data-ms': String(state.model.loadMs) }, ms(state.model.loadMs)));
  ui.runs.textContent = String(state.runs);
}

function renderLevels(): void {
  const pyramid = state.scene?.result.pyramid;
  if (!pyramid) {
    ui.levels.replaceChildren(el('p', { class: 'small' }, ui.pyramid.open ? 'Run the network (Run again) to see the pyramid of this image.' : ''));
    return;
  }
  fillChannelPicker(ui.channel, pyramid.levels[0].channels);
  const channel: ChannelChoice = ui.channel.value === 'mean' ? 'mean' : Number(ui.channel.value);
  renderPyramid(ui.levels, pyramid, channel);
}

/** Everything that shows the current scene. */
function showScene(): void {
  redraw();
  renderList();
  renderTimings();
  renderLevels();
  ui.exportCoco.disabled = ui.exportPng.disabled = false;
}

// ---- live mode -----------------------------------------------------------------------------

const camera = new LiveCamera(ui.video, async (frame) => {
  if (!state.model) return;
  try {
    state.scene = await segment(frame, frame.width, frame.height);
    redraw();
    renderList();
    renderTimings();
    if (ui.pyramid.open) renderLevels();
  } catch (e) {
    showError('Segmenting the webcam frame', e);
    stopLive();
    throw e;
  }
}, (stats: LiveStats) => {
  ui.liveBadge.textContent = `${stats.fps.toFixed(1)} frames/s`;
  ui.fps.textContent = stats.fps.toFixed(1);
  ui.frames.textContent = String(stats.frames);
  ui.dropped.textContent = String(stats.dropped);
});

async function startLive(): Promise<void> {
  clearErrors();
  if (!state.model) return showError('Starting the webcam', new Error('no model is loaded yet'));
  if (state.busy) return showError('Starting the webcam', new Error('an image is still being segmented; try again in a moment'));
  try {
    await camera.start();
  } catch (e) {
    return showError('Starting the webcam', e);
  }
  ui.webcam.setAttribute('aria-pressed', 'true');
  ui.webcam.textContent = 'Stop webcam';
  showStage();
  ui.live.hidden = ui.liveBadge.hidden = false;
  ui.liveBadge.textContent = '';
  document.body.dataset.live = 'true';
  setStatus('Live: segmenting the webcam; frames that arrive while busy are dropped.');
}

function stopLive(): void {
  if (!camera.active) return;
  camera.stop();
  ui.liveBadge.hidden = true;
  ui.webcam.setAttribute('aria-pressed', 'false');
  ui.webcam.textContent = 'Start webcam';
  document.body.dataset.live = 'false';
  // The last frame stays on screen as a still (a copy: the camera's canvas is reused).
  if (state.scene) {
    const copy = Object.assign(document.createElement('canvas'), { width: camera.frame.width, height: camera.frame.height });
    copy.getContext('2d')!.drawImage(camera.frame, 0, 0);
    state.scene.image = copy;
    state.still = { image: copy, width: copy.width, height: copy.height, name: 'webcam.png' };
  }
  setStatus('Webcam stopped.');
}

// ---- inputs --------------------------------------------------------------------------------

/** On a one-column (narrow) layout the image is above the controls: bring it back into view. */
function showStage(): void {
  if (!matchMedia('(max-width: 720px)').matches) return;
  const box = ui.canvas.getBoundingClientRect();
  if (box.bottom < 0 || box.top > innerHeight * 0.5) ui.canvas.scrollIntoView({ block: 'start', behavior: 'smooth' });
}

async function handleDrop(data: DataTransfer): Promise<void> {
  const entries = [...data.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  const folder = entries.find((e): e is FileSystemDirectoryEntry => e.isDirectory);
  if (folder) {
    try {
      return useModel({ kind: 'files', files: await filesOfDroppedFolder(folder), name: folder.name });
    } catch (e) {
      return showError(`Reading the folder ${folder.name}`, e);
    }
  }
  const files = [...data.files];
  if (files.some((f) => f.name === 'resdet.json')) return useModel({ kind: 'files', files, name: 'dropped files' });
  if (files.length === 0) return showError('Dropping', new Error('nothing to open: drop an image file or a model folder'));
  return openImageFile(files[0], files[0].name);
}

function wire(): void {
  ui.score.value = String(detectDefaults.scoreThreshold);
  ui.maskThreshold.value = String(detectDefaults.maskThreshold);
  const showThresholds = () => {
    ui.scoreValue.value = Number(ui.score.value).toFixed(2);
    ui.maskThresholdValue.value = Number(ui.maskThreshold.value).toFixed(2);
  };
  showThresholds();
  for (const slider of [ui.score, ui.maskThreshold]) {
    slider.addEventListener('input', () => {
      showThresholds();
      if (!state.scene) return;
      redraw();
      renderList();
    });
  }

  const params = new URLSearchParams(location.search);
  const provider = params.get('provider');
  if (provider && [...ui.provider.options].some((o) => o.value === provider)) ui.provider.value = provider;
  ui.provider.addEventListener('change', () => {
    stopLive();
    if (state.source) void useModel(state.source);
  });
  ui.bundled.addEventListener('click', () => void useModel({ kind: 'bundled', url: bundledModel }));
  ui.folder.addEventListener('change', () => {
    const files = [...(ui.folder.files ?? [])];
    if (files.length === 0) return;
    const name = files[0].webkitRelativePath.split('/')[0] || 'chosen folder';
    ui.folder.value = '';
    void useModel({ kind: 'files', files, name });
  });
  ui.urlForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void useModel({ kind: 'url', url: ui.url.value.trim() });
  });

  ui.imageFile.addEventListener('change', () => {
    const file = ui.imageFile.files?.[0];
    ui.imageFile.value = '';
    if (file) {
      showStage();
      void openImageFile(file, file.name);
    }
  });
  ui.gallery.replaceChildren(...samples.map((path) => {
    const name = path.split('/').pop()!;
    const button = el('button', { type: 'button', title: `Segment ${name}` }, el('img', { src: path, alt: `Sample ${name}`, width: '64', height: '64' }));
    button.addEventListener('click', () => {
      showStage();
      void openSample(path);
    });
    return el('li', {}, button);
  }));
  ui.webcam.addEventListener('click', () => void (camera.active ? stopLive() : startLive()));
  ui.runAgain.addEventListener('click', () => {
    stopLive();
    if (state.still) void segmentStill(state.still);
  });

  ui.exportCoco.addEventListener('click', () => {
    if (state.scene) downloadCoco(state.scene, state.still?.name ?? 'webcam.png');
  });
  ui.exportPng.addEventListener('click', () => {
    const scene = state.scene;
    if (!scene) return;
    // The PNG without the hover highlight, labels sized for the image.
    const highlight = scene.highlight;
    scene.highlight = null;
    redraw(true);
    downloadPng(ui.canvas, state.still?.name ?? 'webcam.png').catch((e) => showError('Exporting the PNG', e)).finally(() => {
      scene.highlight = highlight;
      redraw();
    });
  });

  ui.canvas.addEventListener('pointermove', (event) => {
    const scene = state.scene;
    if (!scene) return;
    const box = ui.canvas.getBoundingClientRect();
    setHighlight(detectionAt(scene, ((event.clientX - box.left) / box.width) * scene.width, ((event.clientY - box.top) / box.height) * scene.height));
  });
  ui.canvas.addEventListener('pointerleave', () => setHighlight(null));
  ui.channel.addEventListener('change', renderLevels);
  ui.actualSize.addEventListener('change', () => {
    document.body.classList.toggle('actual-size', ui.actualSize.checked);
    redraw();
  });
  // Labels keep their on-screen size when the canvas is resized (a narrow window, a rotated phone).
  new ResizeObserver(() => redraw()).observe(ui.canvas);
  ui.pyramid.addEventListener('toggle', renderLevels);

  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', (event) => {
    if (event.relatedTarget === null) document.body.classList.remove('dragging');
  });
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    document.body.classList.remove('dragging');
    if (event.dataTransfer) void handleDrop(event.dataTransfer);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') setHighlight(null);
  });
  // Anything unforeseen still reaches the page, not only the console.
  window.addEventListener('error', (event) => showError('The page', event.error ?? event.message));
  window.addEventListener('unhandledrejection', (event) => showError('The page', event.reason));

  const url = params.get('model');
  if (url) ui.url.value = url;
  void useModel(url ? { kind: 'url', url } : { kind: 'bundled', url: bundledModel });
}

wire();
