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
