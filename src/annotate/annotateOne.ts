/** What an inference job does with one decoded image (on a worker, replica.ts, or on the main thread). */
import type { Detector } from '../detector/index.js';
import { errorOf, finishOverlapped } from './imageJobs.js';
import type { AnnotateRequest, ReplicaReply } from './replica.js';

/**
 * One decoded image through the networks to its dataset objects and preview. `next` resolves when
 * this thread may take the next image (the preview drawn), `reply` when this one is finished (its
 * preview encoded and on disk, which overlaps with the next image's networks).
 */
export async function annotateOne(detector: Detector, req: AnnotateRequest): Promise<{ next: Promise<void>; reply: Promise<ReplicaReply> }> {
  const { rgb, width, height } = req;
  let detections;
  try {
    detections = (await detector.detect({ data: rgb, width, height, channels: 3 }, { ...req.detectOptions, masks: 'binary' })).detections;
  } catch (e) {
    const error = e as { code?: unknown; message?: unknown };
    const known = typeof error.code === 'string' && typeof error.message === 'string';
    const reply: ReplicaReply = { kind: 'annotated', seq: req.seq, error: known ? { code: error.code as string, message: error.message as string } : errorOf(e) };
    return { next: Promise.resolve(), reply: Promise.resolve(reply) };
  }
  const finishing = finishOverlapped({
    kind: 'finish', seq: req.seq, detections, width, height, polygons: req.polygons, tolerance: req.tolerance, minArea: req.minArea,
    ...(req.previewPath ? { previewPath: req.previewPath, rgb } : {}),
  });
  const reply = finishing.done.then((done): ReplicaReply => (done.error || !done.objects
    ? { kind: 'annotated', seq: req.seq, error: done.error ?? { code: 'INTERNAL', message: 'internal error (please report it): no objects' } }
    : { kind: 'annotated', seq: req.seq, width, height, objects: done.objects }));
  return { next: finishing.drawn, reply };
}

