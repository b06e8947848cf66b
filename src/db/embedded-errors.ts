/**
 * The embedded PostgreSQL could not be prepared or started. The message is one paragraph for the
 * operator: what failed (the folder or file, and as which user), and what to do next. The CLI
 * prints it and exits 2, like any other setup mistake; never a stack trace.
 */
import { OperatorError } from '../lib/operator-error.js';
export class EmbeddedPostgresError extends OperatorError {
  override name = 'EmbeddedPostgresError';
}
