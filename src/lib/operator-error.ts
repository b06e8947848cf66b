/**
 * A mistake the operator fixes: a setting, a command-line argument, a policy, columns or HR file, a
 * change refused by a guard, an embedded PostgreSQL that cannot start here. Its message says what
 * to do next. The CLI (src/main.ts) prints the message and exits with status 2, with no error log
 * and no stack trace; every such error extends this class, so that is decided in one place.
 */
export class OperatorError extends Error {
  override name = 'OperatorError';
}
