/**
 * The Export buttons: the detections shown, as a COCO results file (what pycocotools' loadRes and
 * `resdet eval --detections` read: image_id, category_id, bbox [x, y, w, h], score, segmentation
 * as compressed RLE, area), and the annotated image as PNG. The masks are the ones drawn: the
 * probabilities detect returned, at the page's mask threshold, RLE-encoded with resdet's own
 * encoder (`rleEncodeWindow`, equal to pycocotools).
 */
import { rleArea, rleEncodeWindow, rleToString } from 'resdet/postprocess';
import { download } from './dom.js';
import { maskBits, type Scene, shownIndices } from './draw.js';

export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
  segmentation?: { size: [number, number]; counts: string };
  area: number;
}

/** The shown detections of `scene` as COCO results for image `imageId`. */
export function cocoResults(scene: Scene, imageId = 1): CocoResult[] {
  const { width, height } = scene.result;
  return shownIndices(scene).map((i) => {
    const d = scene.result.detections[i];
    const [x1, y1, x2, y2] = d.box;
    const out: CocoResult = { image_id: imageId, category_id: d.label, bbox: [x1, y1, x2 - x1, y2 - y1], score: d.score, area: (x2 - x1) * (y2 - y1) };
    const bits = maskBits(d, scene.maskThreshold);
    if (bits) {
      const rle = rleEncodeWindow(bits.data, bits, height, width);
      out.segmentation = { size: [height, width], counts: rleToString(rle) };
      out.area = rleArea(rle);
    }
    return out;
  });
}

/** 'photo.jpg' -> 'photo'. */
const stem = (name: string) => name.replace(/\.[^./]*$/, '') || 'image';

export function downloadCoco(scene: Scene, imageName: string): void {
  // One detection per line: readable, and diff-able between runs.
  const json = `[\n${cocoResults(scene).map((r) => JSON.stringify(r)).join(',\n')}\n]\n`;
  download(new Blob([json], { type: 'application/json' }), `${stem(imageName)}.coco.json`);
}

export async function downloadPng(canvas: HTMLCanvasElement, imageName: string): Promise<void> {
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the browser could not encode the canvas as PNG');
  download(blob, `${stem(imageName)}.annotated.png`);
}
