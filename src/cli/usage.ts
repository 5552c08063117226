/** A command line that cannot be run: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = 'UsageError';
  }
}
