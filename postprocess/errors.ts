/**
 * The one error family of the operators: an input that breaks an operator's contract
 * (mismatched lengths, non-finite coordinates, negative sizes). Thrown before any memory is read,
 * so a bad input never becomes an out-of-bounds read or a hang.
 */
export class OperatorInputError extends Error {
  /**
   * @param operator the operator that refused the input, e.g. 'nms'
   * @param message what is wrong, naming the argument and the value at fault
   */
  constructor(readonly operator: string, message: string) {
    super(`${operator}: ${message}`);
    this.name = 'OperatorInputError';
  }
}
