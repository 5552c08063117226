import { ResdetError } from '../../postprocess/errors.js';

/** An image that cannot be read: names the file (or 'buffer') and what is wrong with it. */
export class ImageDecodeError extends ResdetError {
  constructor(readonly source: string, message: string, options?: { cause?: unknown }) {
    super('IMAGE_DECODE', `${source}: ${message}`, options);
  }
}
