import { ResdetError } from '../../postprocess/errors.js';

/** What a value is, for an error: 'null', 'a number', 'a Float32Array', 'an object with keys rgb, width'. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (value as object).constructor?.name;
  if (name && name !== 'Object') return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
  const keys = Object.keys(value).slice(0, 6);
  return keys.length ? `an object with keys ${keys.join(', ')}` : 'an empty object';
}

/** An image that cannot be read: names the file (or 'buffer') and what is wrong with it. */
export class ImageDecodeError extends ResdetError {
  constructor(readonly source: string, message: string, options?: { cause?: unknown }) {
    super('IMAGE_DECODE', `${source}: ${message}`, options);
  }
}
