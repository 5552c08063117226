/** An image that cannot be read: names the file (or 'buffer') and what is wrong with it. */
export class ImageDecodeError extends Error {
  constructor(readonly source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'ImageDecodeError';
  }
}
