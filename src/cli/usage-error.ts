import { OperatorError } from '../lib/operator-error.js';

/** A wrong argument or option of a CLI command: printed with exit status 2 (src/main.ts). */
export class UsageError extends OperatorError {
  override name = 'UsageError';
}
