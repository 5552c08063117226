import { ResdetError } from '../../postprocess/errors.js';

/**
 * The error family of COCO evaluation: a ground-truth or results file that the evaluation cannot
 * read faithfully (a missing field, an id that points nowhere). Thrown before any number is computed,
 * so a bad file never becomes a wrong AP printed silently.
 */
export class CocoFormatError extends ResdetError {
  /**
   * @param source the file (or 'groundTruth' / 'detections' for in-memory data)
   * @param field the JSON path of the value at fault, e.g. 'annotations[3].category_id'
   * @param message what is wrong and, where it helps, what to do
   */
  constructor(readonly source: string, readonly field: string, message: string) {
    super('COCO_FORMAT', `${source}: ${field}: ${message}`);
  }
}
