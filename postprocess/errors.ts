/**
 * The error base of all of resdet, and the operators' own family.
 *
 * `ResdetError` lives here because postprocess/ is the leaf every other folder may import (it
 * imports nothing of ours): each family (`ImageDecodeError`, `ModelPackageError`, ...) extends it,
 * so callers and the CLI tell a user's mistake from a bug with `instanceof ResdetError`, never by
 * matching names. `code` is stable across releases; `cause` carries the underlying error.
 */
export class ResdetError extends Error {
  /**
   * @param code stable, machine-readable family code, e.g. 'IMAGE_DECODE'
   * @param message what is wrong, naming the file, key or value at fault and what to do
   */
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An input that breaks an operator's contract (mismatched lengths, non-finite coordinates,
 * negative sizes). Thrown before any memory is read, so a bad input never becomes an
 * out-of-bounds read or a hang.
 */
export class OperatorInputError extends ResdetError {
  /**
   * @param operator the operator that refused the input, e.g. 'nms'
   * @param message what is wrong, naming the argument and the value at fault
   */
  constructor(readonly operator: string, message: string) {
    super('OPERATOR_INPUT', `${operator}: ${message}`);
  }
}
