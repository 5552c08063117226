import { ResdetError } from '../../postprocess/errors.js';

/** A command line that cannot be run: printed as one line with the command's usage, exit code 2. */
export class UsageError extends ResdetError {
  constructor(message: string, readonly usage: string) {
    super('USAGE', message);
  }
}

/** A batch command that finished with some inputs failed (each already reported), exit code 1. */
export class BatchError extends ResdetError {
  constructor(message: string) {
    super('BATCH', message);
  }
}

/** An output the command may not or cannot write: names the path and why, exit code 1. */
export class OutputError extends ResdetError {
  constructor(readonly path: string, message: string, cause?: unknown) {
    super('OUTPUT', `${path}: ${message}`, { cause });
  }
}

/**
 * A numeric option's value, checked: `--name` must be a number (an integer when asked) in
 * [min, max]; undefined stays undefined.
 * @throws UsageError naming the option, the range and the value given
 */
export function numberOption(name: string, v: string | undefined, min: number, max: number, usage: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !(n >= min && n <= max) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${v}'`, usage);
  }
  return n;
}

/** A run stopped by Ctrl-C after saving what was done: exit code 130, as shells report SIGINT. */
export class InterruptedError extends ResdetError {
  readonly exitCode = 130;
  constructor(message: string) {
    super('INTERRUPTED', message);
  }
}
